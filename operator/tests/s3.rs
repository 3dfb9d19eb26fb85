//! Bucket provisioning against a real S3 server on loopback (Garage, started by
//! `tests/s3/start-garage.sh`, which exports the MADBASE_TEST_S3_* variables). Without
//! MADBASE_TEST_S3 these tests are skipped with a loud message.

use madbase_operator::bucket::{BucketError, BucketOutcome, ObjectStoreClient, S3Buckets, client};
use madbase_operator::operator_config::SecretString;
use madbase_operator::validate::{CredentialsSource, StoragePlan};

fn plan(bucket: &str, create: bool) -> Option<StoragePlan> {
    if std::env::var_os("MADBASE_TEST_S3").is_none() {
        eprintln!(
            "\n*** SKIPPED: S3 tests need a real S3 server: eval \"$(tests/s3/start-garage.sh)\" (sets MADBASE_TEST_S3) ***\n"
        );
        return None;
    }
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set with MADBASE_TEST_S3"))
    };
    Some(StoragePlan {
        bucket: bucket.into(),
        create_bucket: create,
        endpoint: Some(var("MADBASE_TEST_S3_ENDPOINT")),
        region: var("MADBASE_TEST_S3_REGION"),
        force_path_style: true,
        access_key_id: SecretString::new(var("MADBASE_TEST_S3_ACCESS_KEY_ID")),
        secret_access_key: SecretString::new(var("MADBASE_TEST_S3_SECRET_ACCESS_KEY")),
        credentials: CredentialsSource::Operator {
            secret_name: "unused".into(),
        },
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

#[tokio::test]
async fn bucket_is_created_once_then_found() {
    let Some(plan) = plan(&unique("mb-create"), true) else {
        return;
    };
    assert_eq!(
        S3Buckets.ensure(&plan).await.expect("create"),
        BucketOutcome::Created
    );
    assert_eq!(
        S3Buckets.ensure(&plan).await.expect("head"),
        BucketOutcome::Existing
    );
    // A second CreateBucket answers BucketAlreadyOwnedByYou, which the operator counts as success.
    let err = client(&plan)
        .create_bucket()
        .bucket(&plan.bucket)
        .send()
        .await
        .expect_err("exists");
    assert_eq!(
        err.as_service_error()
            .and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e)),
        Some("BucketAlreadyOwnedByYou")
    );
    S3Buckets.delete(&plan).await.expect("cleanup");
}

#[tokio::test]
async fn check_only_mode_reports_a_missing_bucket() {
    let Some(plan) = plan(&unique("mb-missing"), false) else {
        return;
    };
    assert_eq!(
        S3Buckets.ensure(&plan).await,
        Err(BucketError::Missing(plan.bucket.clone()))
    );
}

#[tokio::test]
async fn delete_empties_and_removes_the_bucket() {
    let Some(plan) = plan(&unique("mb-delete"), true) else {
        return;
    };
    S3Buckets.ensure(&plan).await.expect("create");
    let s3 = client(&plan);
    for key in ["a.txt", "dir/b.txt"] {
        s3.put_object()
            .bucket(&plan.bucket)
            .key(key)
            .body(b"hello".to_vec().into())
            .send()
            .await
            .expect("put");
    }
    S3Buckets.delete(&plan).await.expect("delete");
    assert!(
        s3.head_bucket().bucket(&plan.bucket).send().await.is_err(),
        "bucket gone"
    );
    S3Buckets
        .delete(&plan)
        .await
        .expect("deleting a missing bucket is fine");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let Some(mut plan) = plan(&unique("mb-denied"), true) else {
        return;
    };
    plan.secret_access_key = SecretString::new("wrong");
    let err = S3Buckets.ensure(&plan).await.expect_err("denied");
    assert!(
        matches!(
            err,
            BucketError::AccessDenied(_)
                | BucketError::CreateRefused { .. }
                | BucketError::Unavailable(_)
        ),
        "{err:?}"
    );
}
