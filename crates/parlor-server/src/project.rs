//! The project's credentials: taken from the configuration, or read from the store, or
//! created on first start and shown once.

use rand::Rng as _;

use crate::config::Config;
use crate::store::{Project, Store, StoreError};

/// Where the project came from, for what `serve` tells the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Given by flags, env or file (and stored).
    Configured { secret_changed: bool },
    /// Found in the store from an earlier start.
    Stored,
    /// Created now: the secret must be shown to the operator this once.
    Created,
}

/// Makes sure the server has a project and returns it.
pub fn ensure(store: &Store, config: &Config) -> Result<(Project, Origin), StoreError> {
    if let Some((key, secret)) = &config.credentials {
        let project = Project {
            api_key: key.clone(),
            api_secret: secret.clone(),
            created_at: crate::unix_millis(),
        };
        let secret_changed = store.upsert_project(&project)?;
        let project = store.project(key)?.unwrap_or(project);
        return Ok((project, Origin::Configured { secret_changed }));
    }
    if let Some(first) = store.projects()?.into_iter().next() {
        return Ok((first, Origin::Stored));
    }
    let project = generate();
    store.upsert_project(&project)?;
    Ok((project, Origin::Created))
}

/// New credentials: an 8-digit key like OpenTok's and a 40-character hex secret.
pub fn generate() -> Project {
    let mut rng = rand::rng();
    let key: u32 = rng.random_range(10_000_000..100_000_000);
    let secret: [u8; 20] = rng.random();
    Project {
        api_key: key.to_string(),
        api_secret: hex::encode(secret),
        created_at: crate::unix_millis(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServeArgs, validate_credentials};

    #[test]
    fn created_once_then_reused_then_configured() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        let config = Config::resolve(ServeArgs::default()).unwrap();
        let (created, origin) = ensure(&store, &config).unwrap();
        assert_eq!(origin, Origin::Created);
        validate_credentials(&created.api_key, &created.api_secret).unwrap();
        assert!(!created.api_secret.contains('.'));
        let (again, origin) = ensure(&store, &config).unwrap();
        assert_eq!((again, origin), (created.clone(), Origin::Stored));

        let configured = Config::resolve(ServeArgs {
            api_key: Some(created.api_key.clone()),
            api_secret: Some("7d1f4c9ae02b3865fa17".into()),
            ..Default::default()
        })
        .unwrap();
        let (p, origin) = ensure(&store, &configured).unwrap();
        assert_eq!(
            origin,
            Origin::Configured {
                secret_changed: true
            }
        );
        assert_eq!(p.api_secret, "7d1f4c9ae02b3865fa17");
        assert_eq!(p.created_at, created.created_at, "creation time kept");
    }
}
