//! The MadBase operator (being built; see the next commits).
