"""Turns the statements PostgreSQL logged (log_statement=all) for one data API request into a
pgbench script that replays them pipelined, plus the -D options that bind their parameters.

Usage: pipeline_from_log.py POSTGRES_LOG MARKER OUT_SCRIPT ID_VALUE
The statements are those of the backend that ran the first statement containing MARKER, from the
settings statement (or the BEGIN before it) to that statement (or the COMMIT after it). Parameters equal to ID_VALUE become pgbench's random :id;
the others are passed as fixed -D variables, so pgbench binds them exactly as the server did.
Prints the -D options, one per line.
"""

import re
import sys

log_path, marker, out_path, id_value = sys.argv[1:5]
line_re = re.compile(r"\[(\d+)\] (LOG|DETAIL):  (.*)$")
param_re = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')")

entries = []  # (pid, kind, text)
for raw in open(log_path, encoding="utf-8", errors="replace"):
    m = line_re.search(raw.rstrip("\n"))
    if m:
        entries.append([m.group(1), m.group(2), m.group(3)])
    elif entries and raw.startswith(("\t", " ")):
        entries[-1][2] += "\n" + raw.rstrip("\n")

statements = []  # (pid, sql, params)
for pid, kind, text in entries:
    if kind == "LOG":
        m = re.match(r"(?:statement|execute [^:]*): (.*)", text, re.S)
        if m:
            statements.append([pid, m.group(1), {}])
    elif kind == "DETAIL" and text.startswith("parameters:") and statements:
        last = next((s for s in reversed(statements) if s[0] == pid), None)
        if last is not None:
            for pm in param_re.finditer(text):
                last[2][int(pm.group(1))] = None if pm.group(2) == "NULL" else pm.group(3).replace("''", "'")

hit = next(i for i, s in enumerate(statements) if marker in s[1])
pid = statements[hit][0]
own = [s for s in statements if s[0] == pid]
pos = own.index(statements[hit])
# A request starts at its settings statement, or at the BEGIN just before it; a read at read
# committed has no BEGIN/COMMIT (it is the implicit transaction of its pipeline).
start = max(i for i in range(pos + 1) if "set_config('search_path'" in own[i][1])
if start > 0 and own[start - 1][1].startswith("BEGIN"):
    start -= 1
end = pos
if end + 1 < len(own) and own[end + 1][1].startswith(("COMMIT", "ROLLBACK")):
    end += 1
tx = own[start:end + 1]

defines = {}
lines = ["\\set id random(1, 100000)", "\\startpipeline"]
for n, (_, sql, params) in enumerate(tx):
    def sub(m, n=n, params=params):
        k = int(m.group(1))
        v = params.get(k)
        if v == id_value:
            return ":id"
        name = f"s{n}p{k}"
        defines[name] = v
        return ":" + name
    lines.append(re.sub(r"\$(\d+)", sub, sql).replace("\n", " ") + ";")
lines.append("\\endpipeline")
open(out_path, "w").write("\n".join(lines) + "\n")
for k, v in defines.items():
    print(f"{k}={v}")
