//! Client token verification against the store: the one function every entry point
//! (signaling, CLI) calls before anything else happens for a client.

use parlor_proto::token::{ParsedToken, TokenError, TokenGrant};

use crate::store::{SessionRecord, Store, StoreError};

/// Why a token was not accepted: the token's fault, or the server's.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies `token` at time `now` (Unix seconds): the project it names must exist, its
/// signature must match that project's secret (or, for a Vonage application's token, one
/// of the application's RSA public keys), it must be unexpired with a valid role, scope
/// and connection data, and its session must exist, belong to the same project and, when
/// `requested_session` is given, be that session.
pub fn verify_client_token(
    store: &Store,
    token: &str,
    requested_session: Option<&str>,
    now: i64,
) -> Result<TokenGrant, VerifyError> {
    verify_client_token_for_session(store, token, requested_session, now).map(|(grant, _)| grant)
}

/// [`verify_client_token`], also returning the session's record (its media mode, ...).
pub fn verify_client_token_for_session(
    store: &Store,
    token: &str,
    requested_session: Option<&str>,
    now: i64,
) -> Result<(TokenGrant, SessionRecord), VerifyError> {
    let parsed = ParsedToken::parse(token)?;
    let application = store.application(parsed.project_id())?;
    let grant = match application {
        // A deleted application signs nothing any more.
        Some(app) if app.deleted_at.is_some() => {
            return Err(TokenError::UnknownApplication(app.application_id).into());
        }
        Some(app) if parsed.is_application() => {
            let keys = crate::applications::public_keys(&app);
            parsed.verify_application(&keys, now)?
        }
        // A secret-signed token (HS256 or T1) naming an application: applications have no
        // secret anyone could sign with.
        Some(app) => {
            return Err(TokenError::SecretSignedForApplication(app.application_id).into());
        }
        None if parsed.is_application() => {
            return Err(TokenError::UnknownApplication(parsed.project_id().to_owned()).into());
        }
        None => {
            let project = store
                .project(parsed.project_id())?
                .ok_or_else(|| TokenError::UnknownProject(parsed.project_id().to_owned()))?;
            parsed.verify(&project.api_secret, now)?
        }
    };
    if let Some(requested) = requested_session
        && requested != grant.session_id
    {
        return Err(TokenError::WrongSession {
            token: grant.session_id,
            requested: requested.to_owned(),
        }
        .into());
    }
    let session = store
        .session(&grant.session_id)?
        .ok_or_else(|| TokenError::UnknownSession(grant.session_id.clone()))?;
    if session.project_id != grant.project_id {
        return Err(TokenError::WrongProject {
            token: grant.project_id,
            session: session.project_id,
        }
        .into());
    }
    Ok((grant, session))
}

#[cfg(test)]
mod tests {
    use parlor_proto::token::{MintRequest, TokenFormat, mint};
    use parlor_proto::{Role, session_id};

    use super::*;
    use crate::store::{Project, SessionRecord};

    const NOW: i64 = 1_800_000_000;

    fn store_with(projects: &[(&str, &str)], sessions: &[(&str, &str)]) -> Store {
        let dir = tempfile::tempdir().unwrap().keep();
        let store = Store::open(&dir.join("p.db")).unwrap();
        for (key, secret) in projects {
            store
                .upsert_project(&Project {
                    api_key: (*key).into(),
                    api_secret: (*secret).into(),
                    created_at: 0,
                })
                .unwrap();
        }
        for (sid, project) in sessions {
            store
                .insert_session(&SessionRecord {
                    session_id: (*sid).into(),
                    project_id: (*project).into(),
                    ..crate::api::sessions::routed_options()
                })
                .unwrap();
        }
        store
    }

    fn token(key: &str, secret: &str, sid: &str) -> String {
        mint(&MintRequest {
            api_key: key,
            api_secret: secret,
            session_id: sid,
            role: Role::Subscriber,
            create_time: NOW,
            expire_time: NOW + 60,
            data: None,
            initial_layout_class_list: &[],
            format: TokenFormat::T1,
        })
    }

    #[test]
    fn checks_project_session_and_match() {
        let s1 = session_id::generate("111", None, 0);
        let s2 = session_id::generate("222", None, 0);
        let unknown = session_id::generate("111", None, 0);
        let store = store_with(
            &[("111", "secret1"), ("222", "secret2")],
            &[(&s1, "111"), (&s2, "222")],
        );
        let reason = |t: &str, req: Option<&str>| match verify_client_token(&store, t, req, NOW) {
            Ok(_) => "ok",
            Err(VerifyError::Token(e)) => e.reason(),
            Err(e) => panic!("{e}"),
        };
        let good = token("111", "secret1", &s1);
        assert_eq!(reason(&good, Some(&s1)), "ok");
        assert_eq!(reason(&good, None), "ok");
        assert_eq!(reason(&good, Some(&s2)), "wrong_session");
        assert_eq!(reason(&token("333", "x", &s1), None), "unknown_project");
        assert_eq!(reason(&token("111", "secret2", &s1), None), "bad_signature");
        assert_eq!(
            reason(&token("111", "secret1", &unknown), None),
            "unknown_session"
        );
        // Project 222 signs a token for project 111's session.
        assert_eq!(reason(&token("222", "secret2", &s1), None), "wrong_project");
    }

    #[test]
    fn application_tokens() {
        use parlor_proto::app_auth::PrivateKey;
        use parlor_proto::token::{AppMintRequest, mint_application};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        let (pem1, pub1) = crate::applications::generate_key_pair().unwrap();
        let (pem2, pub2) = crate::applications::generate_key_pair().unwrap();
        let key1 = PrivateKey::from_pem(&pem1).unwrap();
        let key2 = PrivateKey::from_pem(&pem2).unwrap();
        let app1 = crate::applications::create(&store, None, &pub1).unwrap();
        let app2 = crate::applications::create(&store, None, &pub2).unwrap();
        let (a1, a2) = (app1.application_id.as_str(), app2.application_id.as_str());
        let s1 = session_id::generate(a1, None, 0);
        let s2 = session_id::generate(a2, None, 0);
        for (sid, owner) in [(&s1, a1), (&s2, a2)] {
            store
                .insert_session(&SessionRecord {
                    session_id: sid.clone(),
                    project_id: owner.into(),
                    ..crate::api::sessions::routed_options()
                })
                .unwrap();
        }
        let app_token = |app: &str, key: &PrivateKey, sid: &str| {
            mint_application(&AppMintRequest {
                application_id: app,
                private_key: key,
                session_id: sid,
                role: Role::Moderator,
                create_time: NOW,
                expire_time: NOW + 60,
                data: Some("x"),
                initial_layout_class_list: &[],
            })
        };
        let reason = |t: &str| match verify_client_token(&store, t, None, NOW) {
            Ok(g) => {
                assert_eq!(g.credential, parlor_proto::token::Credential::Application);
                "ok"
            }
            Err(VerifyError::Token(e)) => e.reason(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(reason(&app_token(a1, &key1, &s1)), "ok");
        assert_eq!(reason(&app_token(a1, &key2, &s1)), "bad_signature");
        // Application 2 signs a token for application 1's session.
        assert_eq!(reason(&app_token(a2, &key2, &s1)), "wrong_project");
        let stranger = "00000000-0000-4000-8000-000000000000";
        assert_eq!(
            reason(&app_token(stranger, &key1, &s1)),
            "unknown_application"
        );
        // An OpenTok-style token (T1, HMAC) naming an application.
        assert_eq!(
            reason(&token(a1, "guess", &s1)),
            "secret_signed_application"
        );
        // Rotation: a new key works at once; removing the old one refuses its tokens.
        let (pem3, pub3) = crate::applications::generate_key_pair().unwrap();
        let key3 = PrivateKey::from_pem(&pem3).unwrap();
        assert_eq!(reason(&app_token(a1, &key3, &s1)), "bad_signature");
        crate::applications::add_key(&store, a1, &pub3).unwrap();
        assert_eq!(reason(&app_token(a1, &key3, &s1)), "ok");
        assert_eq!(reason(&app_token(a1, &key1, &s1)), "ok");
        crate::applications::remove_key(&store, a1, pub1.id()).unwrap();
        assert_eq!(reason(&app_token(a1, &key1, &s1)), "bad_signature");
        // A deleted application's tokens are refused.
        store.delete_application(a1, 1).unwrap();
        assert_eq!(reason(&app_token(a1, &key3, &s1)), "unknown_application");
    }
}
