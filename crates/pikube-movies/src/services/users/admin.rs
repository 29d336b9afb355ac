//! The administrator the users service creates, or brings up to date, before it serves.

use crate::auth::{hash_password, verify_password, Busy, HashError, Role};
use crate::database::Database;

use super::store;

/// Why the administrator could not be made ready; each names the account.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("reading the administrator {email}: {cause}")]
    Read { email: String, cause: sqlx::Error },
    #[error("checking the administrator {email}'s password: {cause}")]
    Check { email: String, cause: Busy },
    #[error("the administrator {email}: {cause}")]
    Hash { email: String, cause: HashError },
    #[error("creating the administrator {email}: {cause}")]
    Write { email: String, cause: sqlx::Error },
}

/// Creates the administrator, or brings its password and role up to date. The hash is only
/// recomputed when the configured password no longer matches.
pub async fn bootstrap_admin(db: &Database, email: &str, password: &str) -> Result<(), AdminError> {
    let existing = store::by_email(db, email)
        .await
        .map_err(|cause| AdminError::Read {
            email: email.to_owned(),
            cause,
        })?;
    if let Some(user) = existing {
        if user.role == Role::Admin
            && verify_password(password.to_owned(), user.password_hash)
                .await
                .map_err(|cause| AdminError::Check {
                    email: email.to_owned(),
                    cause,
                })?
        {
            return Ok(());
        }
    }
    let hash = hash_password(password.to_owned())
        .await
        .map_err(|cause| AdminError::Hash {
            email: email.to_owned(),
            cause,
        })?;
    store::upsert_admin(db, email, &hash)
        .await
        .map_err(|cause| AdminError::Write {
            email: email.to_owned(),
            cause,
        })?;
    tracing::info!(%email, "administrator account ready");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch_database::Scratch;
    use crate::ServiceName;

    #[tokio::test]
    async fn an_administrator_is_created_once_and_a_failed_read_names_the_account() {
        let scratch = Scratch::sqlite(ServiceName::Users, &super::super::MIGRATIONS).await;
        bootstrap_admin(&scratch.db, "admin@example.org", "correct horse")
            .await
            .unwrap();
        let admin = store::by_email(&scratch.db, "admin@example.org")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.role, Role::Admin);

        scratch.db.close().await;
        let err = bootstrap_admin(&scratch.db, "admin@example.org", "correct horse")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdminError::Read { email, cause: sqlx::Error::PoolClosed }
                if email == "admin@example.org"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("reading the administrator admin@example.org: "),
            "{err}"
        );
    }
}
