//! Client token verification against the store: the one function every entry point
//! (signaling, CLI) calls before anything else happens for a client.

use parlor_proto::token::{ParsedToken, TokenError, TokenGrant};

use crate::store::{Store, StoreError};

/// Why a token was not accepted: the token's fault, or the server's.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies `token` at time `now` (Unix seconds): the project it names must exist, its
/// signature must match that project's secret, it must be unexpired with a valid role,
/// scope and connection data, and its session must exist, belong to the same project and,
/// when `requested_session` is given, be that session.
pub fn verify_client_token(
    store: &Store,
    token: &str,
    requested_session: Option<&str>,
    now: i64,
) -> Result<TokenGrant, VerifyError> {
    let parsed = ParsedToken::parse(token)?;
    let project = store
        .project(parsed.project_id())?
        .ok_or_else(|| TokenError::UnknownProject(parsed.project_id().to_owned()))?;
    let grant = parsed.verify(&project.api_secret, now)?;
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
    Ok(grant)
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
}
