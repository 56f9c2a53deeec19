//! Settings: flags over environment over file over defaults, and every check.
use super::*;

#[test]
fn flags_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    std::fs::write(
        &file,
        "media_port = 9000\nlog = \"debug\"\nlisten = \"0.0.0.0:1\"\n",
    )
    .unwrap();
    let cfg = Config::resolve(ServeArgs {
        config: Some(file.clone()),
        listen: Some("127.0.0.1:5".parse().unwrap()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg.listen.port(), 5);
    assert_eq!(cfg.media_port, 9000);
    assert_eq!(cfg.log, "debug");
    assert_eq!(cfg.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert!(cfg.demo, "demo on by default on loopback");
    let public = Config::resolve(ServeArgs {
        listen: Some("0.0.0.0:1".parse().unwrap()),
        ..Default::default()
    })
    .unwrap();
    assert!(!public.demo, "demo off by default on a public address");
    let forced = Config::resolve(ServeArgs {
        listen: Some("0.0.0.0:1".parse().unwrap()),
        demo: true,
        ..Default::default()
    })
    .unwrap();
    assert!(forced.demo);
    let off = Config::resolve(ServeArgs {
        no_demo: true,
        ..Default::default()
    })
    .unwrap();
    assert!(!off.demo);

    std::fs::write(&file, "media-port = 9000\n").unwrap();
    let err = Config::resolve(ServeArgs {
        config: Some(file),
        ..Default::default()
    });
    assert!(matches!(err, Err(ConfigError::Parse(..))));
}

#[test]
fn archive_limits_take_durations_with_units() {
    use std::time::Duration;
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
    assert_eq!(parse_duration("72h"), Some(Duration::from_secs(259_200)));
    assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
    for bad in [
        "",
        "0",
        "0h",
        "h",
        "1.5h",
        "-1",
        "1w",
        "1 hour",
        "99999999999999999999",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
    let cfg = Config::resolve(ServeArgs::default()).unwrap();
    assert_eq!(cfg.archives, ArchiveLimits::default());
    assert_eq!(
        cfg.archives.retention, None,
        "kept until deleted by default"
    );
    let cfg = Config::resolve(ServeArgs {
        archive_max_duration: Some("30m".into()),
        archive_paused_timeout: Some("120".into()),
        archive_retention: Some("72h".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg.archives.max_duration, Duration::from_secs(1800));
    assert_eq!(cfg.archives.paused_timeout, Duration::from_secs(120));
    assert_eq!(cfg.archives.retention, Some(Duration::from_secs(259_200)));
    let err = Config::resolve(ServeArgs {
        archive_retention: Some("3 days".into()),
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("--archive-retention '3 days'"),
        "{err}"
    );
}

#[test]
fn tls_files_from_flags_or_file_and_both_or_neither() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    std::fs::write(
        &file,
        "tls_cert = \"/etc/c.pem\"\ntls_key = \"/etc/k.pem\"\n",
    )
    .unwrap();
    let cfg = Config::resolve(ServeArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        cfg.tls,
        Some(TlsFiles {
            cert: "/etc/c.pem".into(),
            key: "/etc/k.pem".into()
        })
    );
    let flags = Config::resolve(ServeArgs {
        config: Some(file),
        tls_cert: Some("/x/c.pem".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(flags.tls.unwrap().cert, PathBuf::from("/x/c.pem"));
    assert!(Config::resolve(ServeArgs::default()).unwrap().tls.is_none());
    assert!(matches!(
        Config::resolve(ServeArgs {
            tls_key: Some("/k.pem".into()),
            ..Default::default()
        }),
        Err(ConfigError::HalfTls)
    ));
}

#[test]
fn media_tcp_port_defaults_to_the_media_port_and_can_be_off() {
    let with = |args: ServeArgs| Config::resolve(args).unwrap().media_tcp_port;
    assert_eq!(with(ServeArgs::default()), Some(DEFAULT_MEDIA_PORT));
    let media_port = Some(9000);
    assert_eq!(
        with(ServeArgs {
            media_port,
            ..Default::default()
        }),
        Some(9000)
    );
    assert_eq!(
        with(ServeArgs {
            media_port,
            media_tcp_port: Some("443".parse().unwrap()),
            ..Default::default()
        }),
        Some(443)
    );
    assert_eq!(
        with(ServeArgs {
            media_tcp_port: Some("off".parse().unwrap()),
            ..Default::default()
        }),
        None
    );
    for bad in ["", "of", "65536", "-1", "tcp"] {
        let e = bad.parse::<MediaTcpPort>().unwrap_err();
        assert!(e.contains("nor \"off\""), "{bad}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    for (text, want) in [
        ("media_tcp_port = 3478\n", Some(3478)),
        ("media_tcp_port = \"off\"\n", None),
    ] {
        std::fs::write(&file, text).unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        assert_eq!(with(args), want, "{text}");
    }
    std::fs::write(&file, "media_tcp_port = \"on\"\n").unwrap();
    let e = Config::resolve(ServeArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("media_tcp_port"), "{e}");
}

#[test]
fn credentials_are_checked() {
    let half = ServeArgs {
        api_key: Some("123".into()),
        ..Default::default()
    };
    assert!(matches!(
        Config::resolve(half),
        Err(ConfigError::HalfCredentials)
    ));
    assert!(validate_credentials("12a", "0123456789abcdef").is_err());
    assert!(validate_credentials("123", "0123456789abcde.").is_err());
    assert!(validate_credentials("123", "short").is_err());
    assert!(validate_credentials("123", "4f0c9a7e21b85d36").is_ok());
}

#[test]
fn metrics_tokens_are_16_to_256_visible_characters() {
    for bad in ["short", "has a space in it!!", &"x".repeat(257)] {
        let r = Config::resolve(ServeArgs {
            metrics_token: Some(bad.to_string()),
            ..Default::default()
        });
        assert!(matches!(r, Err(ConfigError::BadMetricsToken)), "{bad:?}");
    }
    let cfg = Config::resolve(ServeArgs {
        metrics_token: Some("scrape-0f9e8d7c6b5a4938".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        cfg.metrics_token.as_deref(),
        Some("scrape-0f9e8d7c6b5a4938")
    );
    assert!(!format!("{cfg:?}").contains("0f9e8d7c"), "never printed");
}

#[test]
fn turn_settings_from_flags_or_file_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    std::fs::write(
        &file,
        "turn_url = [\"turn:192.0.2.7:3478?transport=udp\", \"stun:192.0.2.7\"]\n\
         turn_secret = \"north-wind-7f3a9c21e5d84b60\"\nturn_credential_ttl = \"1h\"\n",
    )
    .unwrap();
    let cfg = Config::resolve(ServeArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg.turn.urls.len(), 2);
    assert_eq!(
        cfg.turn.credential_ttl,
        std::time::Duration::from_secs(3600)
    );
    assert!(
        !format!("{cfg:?}").contains("north-wind"),
        "secret not in Debug"
    );
    // Flags replace the file's URLs; a comma-separated string works in the file too.
    let flags = Config::resolve(ServeArgs {
        config: Some(file.clone()),
        turn_url: vec!["turns:t.example.com:5349?transport=tcp".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        flags.turn.urls[0].as_str(),
        "turns:t.example.com:5349?transport=tcp"
    );
    assert_eq!(flags.turn.urls.len(), 1);
    std::fs::write(
        &file,
        "turn_url = \"stun:a.example.com, stun:b.example.com\"\n",
    )
    .unwrap();
    let cfg = Config::resolve(ServeArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg.turn.urls.len(), 2);
    assert_eq!(cfg.turn.credential_ttl, crate::turn::DEFAULT_CREDENTIAL_TTL);
    assert!(
        Config::resolve(ServeArgs::default())
            .unwrap()
            .turn
            .urls
            .is_empty()
    );
    let err = Config::resolve(ServeArgs {
        turn_url: vec!["turn:192.0.2.7:3478".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::Turn(TurnConfigError::NoSecret(_))),
        "{err}"
    );
}

#[test]
fn weak_secrets_are_refused_with_the_reason() {
    for (secret, why) in [
        ("aaaaaaaaaaaaaaaaaaaa", "fewer than 8 different characters"),
        ("passwordpassword", "fewer than 8 different characters"),
        (
            "0bench0secret0bench0secret0bench0secret0",
            "repeats a shorter pattern",
        ),
        ("abcdefgh1abcdefgh1", "repeats a shorter pattern"),
        ("0123456789abcdef", "run of consecutive characters"),
        (
            "abcdefghijklmnopqrstuvwxyz",
            "run of consecutive characters",
        ),
        ("zyxwvutsrqponmlkjihg", "run of consecutive characters"),
    ] {
        let e = validate_credentials("123", secret).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("weak"), "{secret}: {e}");
    }
    // Random secrets of every shape the project uses pass: hex (the generated ones and
    // OpenTok's), mixed case.
    for secret in [
        "00112233445566778899aabbccddeeff00112233",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "9c2e7a04b1f85d63e0aa41c7",
        "Xq7PzL2mRt9vKc4W",
    ] {
        validate_credentials("123", secret).unwrap_or_else(|e| panic!("{secret}: {e}"));
    }
    let cfg = Config::resolve(ServeArgs {
        api_key: Some("123".into()),
        api_secret: Some("9c2e7a04b1f85d63XYZ".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(!format!("{cfg:?}").contains("XYZ"), "secret not in Debug");
}

#[test]
fn the_speaker_interval_takes_milliseconds_or_off() {
    let with = |v: &str| {
        Config::resolve(ServeArgs {
            speaker_interval: Some(v.to_owned()),
            ..Default::default()
        })
    };
    let default = Config::resolve(ServeArgs::default()).unwrap();
    assert_eq!(default.speaker_interval, Some(DEFAULT_SPEAKER_INTERVAL));
    assert_eq!(
        with("100ms").unwrap().speaker_interval,
        Some(std::time::Duration::from_millis(100))
    );
    assert_eq!(
        with("2s").unwrap().speaker_interval,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(with("off").unwrap().speaker_interval, None);
    for bad in ["10ms", "1m", "ms", "-5ms", "fast"] {
        match with(bad) {
            Err(e @ ConfigError::BadInterval("--speaker-interval", ..)) => {
                assert!(e.to_string().contains("50 ms to 10 s"), "{e}");
                let ConfigError::BadInterval(_, v, _) = e else {
                    unreachable!()
                };
                assert_eq!(v, bad)
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn the_reconnect_grace_takes_a_duration_or_off() {
    let with = |v: &str| {
        Config::resolve(ServeArgs {
            reconnect_grace: Some(v.to_owned()),
            ..Default::default()
        })
    };
    let default = Config::resolve(ServeArgs::default()).unwrap();
    assert_eq!(default.reconnect_grace, Some(DEFAULT_RECONNECT_GRACE));
    assert_eq!(
        with("45s").unwrap().reconnect_grace,
        Some(std::time::Duration::from_secs(45))
    );
    assert_eq!(with("off").unwrap().reconnect_grace, None);
    for bad in ["0", "11m", "soon", ""] {
        match with(bad) {
            Err(e @ ConfigError::BadInterval("--reconnect-grace", ..)) => {
                assert!(e.to_string().contains("1 s to 10 m"), "{e}");
                let ConfigError::BadInterval(_, v, _) = e else {
                    unreachable!()
                };
                assert_eq!(v, bad)
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}
