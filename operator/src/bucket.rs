//! The bucket step: `HeadBucket`, then `CreateBucket` when missing and allowed
//! (`BucketAlreadyOwnedByYou` counts as success), or only the check when `createBucket: false`;
//! and, from the finalizer under `deletionPolicy: Delete`, emptying and deleting the bucket.
//!
//! The S3 client is built per call from the project's plan (endpoint, region, addressing style,
//! credentials) with rustls on ring for HTTPS and plain HTTP for loopback test servers.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::postgres::BoxFuture;
use crate::validate::StoragePlan;

/// Errors of the bucket step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// `createBucket: false` and the bucket does not exist.
    #[error("bucket {0} does not exist and storage.createBucket is false")]
    Missing(String),
    /// The store refused to create the bucket (permissions, quota, name taken).
    #[error("creating bucket {bucket} was refused: {code}: {message}")]
    CreateRefused {
        /// Bucket.
        bucket: String,
        /// S3 error code.
        code: String,
        /// S3 error message.
        message: String,
    },
    /// The store denied access to an existing bucket.
    #[error("access to bucket {0} denied")]
    AccessDenied(String),
    /// The store could not be reached or answered unexpectedly.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

impl BucketError {
    /// Condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            BucketError::Missing(_) => "BucketMissing",
            BucketError::CreateRefused { .. } => "BucketCreateFailed",
            BucketError::AccessDenied(_) => "BucketAccessDenied",
            BucketError::Unavailable(_) => "ObjectStoreUnavailable",
        }
    }
}

/// What the bucket step found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOutcome {
    /// The bucket was there.
    Existing,
    /// The bucket was created now.
    Created,
}

/// What the reconciler needs from S3; the real implementation is [`S3Buckets`].
pub trait ObjectStoreClient: Send + Sync {
    /// Ensures the plan's bucket exists (creating it when allowed).
    fn ensure<'a>(
        &'a self,
        plan: &'a StoragePlan,
    ) -> BoxFuture<'a, Result<BucketOutcome, BucketError>>;
    /// Empties and deletes the plan's bucket; a missing bucket is success.
    fn delete<'a>(&'a self, plan: &'a StoragePlan) -> BoxFuture<'a, Result<(), BucketError>>;
}

/// Real S3 over `aws-sdk-s3`.
#[derive(Debug, Clone, Copy, Default)]
pub struct S3Buckets;

/// Builds an S3 client for a plan.
pub fn client(plan: &StoragePlan) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(plan.region.clone()))
        .credentials_provider(Credentials::new(
            plan.access_key_id.expose(),
            plan.secret_access_key.expose(),
            None,
            None,
            "madbase-operator",
        ))
        .force_path_style(plan.force_path_style)
        .http_client(http);
    if let Some(endpoint) = &plan.endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

fn status_of<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => format!(
            "{}: {}",
            s.err().code().unwrap_or("unknown"),
            s.err().message().unwrap_or("")
        ),
        other => format!("{other:?}").chars().take(300).collect(),
    }
}

impl ObjectStoreClient for S3Buckets {
    fn ensure<'a>(
        &'a self,
        plan: &'a StoragePlan,
    ) -> BoxFuture<'a, Result<BucketOutcome, BucketError>> {
        Box::pin(async move {
            let s3 = client(plan);
            let bucket = plan.bucket.as_str();
            match s3.head_bucket().bucket(bucket).send().await {
                Ok(_) => return Ok(BucketOutcome::Existing),
                Err(e) => match status_of(&e) {
                    Some(404) => {}
                    Some(403) => return Err(BucketError::AccessDenied(bucket.into())),
                    _ => return Err(BucketError::Unavailable(describe(&e))),
                },
            }
            if !plan.create_bucket {
                return Err(BucketError::Missing(bucket.into()));
            }
            let mut create = s3.create_bucket().bucket(bucket);
            if plan.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(plan.region.as_str()))
                        .build(),
                );
            }
            match create.send().await {
                Ok(_) => Ok(BucketOutcome::Created),
                Err(e) => {
                    let code = e
                        .as_service_error()
                        .and_then(|s| s.code())
                        .map(str::to_owned);
                    match code.as_deref() {
                        Some("BucketAlreadyOwnedByYou") => Ok(BucketOutcome::Existing),
                        Some(code) => Err(BucketError::CreateRefused {
                            bucket: bucket.into(),
                            code: code.into(),
                            message: e
                                .as_service_error()
                                .and_then(|s| s.message())
                                .unwrap_or("")
                                .into(),
                        }),
                        None => Err(BucketError::Unavailable(describe(&e))),
                    }
                }
            }
        })
    }

    fn delete<'a>(&'a self, plan: &'a StoragePlan) -> BoxFuture<'a, Result<(), BucketError>> {
        Box::pin(async move {
            let s3 = client(plan);
            let bucket = plan.bucket.as_str();
            loop {
                let listed = match s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .max_keys(1000)
                    .send()
                    .await
                {
                    Ok(l) => l,
                    Err(e) if status_of(&e) == Some(404) => return Ok(()),
                    Err(e) => return Err(BucketError::Unavailable(describe(&e))),
                };
                let keys: Vec<ObjectIdentifier> = listed
                    .contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                    .collect();
                if keys.is_empty() {
                    break;
                }
                let delete = Delete::builder()
                    .set_objects(Some(keys))
                    .quiet(true)
                    .build()
                    .map_err(|e| BucketError::Unavailable(e.to_string()))?;
                s3.delete_objects()
                    .bucket(bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| BucketError::Unavailable(describe(&e)))?;
            }
            match s3.delete_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                Err(e) => Err(BucketError::Unavailable(describe(&e))),
            }
        })
    }
}
