//! `parlor serve`: open the store, make sure a project exists, bind, serve until SIGINT or
//! SIGTERM, then drain in-flight requests and exit.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::project::{self, Origin};
use crate::{AppState, Config, Store, api};

/// Runs the server with `config` until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db_path = config.db_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&db_path))
        .await?
        .with_context(|| format!("cannot open database in {}", config.data_dir.display()))?;
    let store = Arc::new(store);

    let (project, origin) = project::ensure(&store, &config)?;
    match origin {
        Origin::Created => {
            // Printed once, on stdout, for the operator: the only time the secret is shown.
            println!(
                "\nCreated a project for this server (stored in {}):\n  API key:    {}\n  API secret: {}\nKeep the secret safe; it is not shown again.\n",
                config.db_path().display(),
                project.api_key,
                project.api_secret
            );
        }
        Origin::Configured {
            secret_changed: true,
        } => tracing::warn!(api_key = %project.api_key, "API secret changed by configuration"),
        _ => tracing::info!(api_key = %project.api_key, "using project"),
    }

    // TLS first: a certificate that cannot be loaded stops the start, before binding.
    let tls_config = match &config.tls {
        Some(files) => {
            let cert = crate::tls::ReloadingCert::new(files.clone())
                .context("cannot load the TLS certificate")?;
            let server_config = cert.server_config()?;
            cert.spawn_watcher()?;
            Some(server_config)
        }
        None => None,
    };
    let tls = tls_config.clone().map(tokio_rustls::TlsAcceptor::from);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let media_bind = std::net::SocketAddr::new(config.listen.ip(), config.media_port);
    let (router, router_events) = parlor_router::RouterHandle::start(parlor_router::RouterConfig {
        bind: media_bind,
        advertise_ip: config.public_ip,
        quality_interval: config.quality_interval,
        tcp_port: config.media_tcp_port,
        audio_level_interval: config.speaker_interval,
        // A client resuming after a network failure finds its media transports waiting.
        disconnect_grace: config
            .reconnect_grace
            .map_or(parlor_router::DEFAULT_DISCONNECT_GRACE, |g| {
                g.max(parlor_router::DEFAULT_DISCONNECT_GRACE)
            }),
    })
    .with_context(|| format!("cannot start the media router on {media_bind}"))?;
    let rooms_key = crate::rooms::key::load_or_create(&config.data_dir)?;
    let notifier = crate::callbacks::Notifier::start_with(
        store.clone(),
        config.callback_url.clone(),
        Some(rooms_key.clone()),
    )
    .context("cannot start the callback dispatcher")?;
    let history = crate::inspector::History::start(
        store.clone(),
        config.history_retention,
        config.quality_retention,
    );
    let signaling = crate::signaling::Signaling::new(
        router.clone(),
        notifier.clone(),
        history,
        config.session_caps,
        config.rates.signals,
        config.quality_interval,
        config.meeting_gap,
    );
    signaling.set_reconnect_grace(config.reconnect_grace);
    let mut ice_servers = config.turn.ice_servers();
    let embedded_turn = match &config.embedded_turn {
        Some(ports) => {
            let turn = crate::turn::embedded::start(
                crate::turn::embedded::EmbeddedConfig {
                    bind_ip: config.listen.ip(),
                    public_ip: router.advertised_addr().ip(),
                    port: ports.port,
                    tls_port: ports.tls_port,
                    tls_host: ports.tls_host.clone(),
                    router: router.advertised_addr(),
                    secret: ports.secret.clone(),
                },
                tls_config.clone(),
            )
            .await?;
            ice_servers.add(turn.urls(), Some(turn.secret()), config.turn.credential_ttl);
            Some(std::sync::Arc::new(turn))
        }
        None => None,
    };
    signaling.set_ice_servers(ice_servers);
    tokio::spawn(signaling.clone().run_router_events(router_events));
    let archives = crate::archives::Archives::start(
        store.clone(),
        &config.data_dir,
        signaling.clone(),
        notifier.clone(),
        format!("{scheme}://{addr}"),
        config.archives,
    );
    let broadcasts = crate::broadcasts::Broadcasts::start(
        store.clone(),
        &config.data_dir,
        signaling.clone(),
        notifier.clone(),
        format!("{scheme}://{addr}"),
    );
    let rooms = Arc::new(crate::rooms::Rooms::new(
        store.clone(),
        signaling.clone(),
        rooms_key,
    )?);
    crate::rooms::webhooks::start(store.clone(), rooms.observe(), notifier);
    let room_media = crate::rooms::recordings::RoomMedia::start(
        store.clone(),
        &config.data_dir,
        signaling.clone(),
        rooms.clone(),
        format!("{scheme}://{addr}"),
    );
    let rest_rate = Arc::new(crate::limits::RestRateLimiter::new(config.rates.rest));
    let state = AppState {
        rooms,
        room_media,
        store,
        rest_rate,
        config: Arc::new(config),
        signaling,
        archives,
        broadcasts,
        turn: embedded_turn.clone(),
    };
    // Status codes are the API's answers, not failures of the server: a 501 for an unbuilt
    // feature is expected. Real faults are logged where they happen.
    // The span names the path, never the query: a download URL's query is its signature.
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        })
        .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG));
    let http_limits = state.config.http;
    let app =
        api::router(state)
            .layer(trace)
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                http_limits.body_timeout,
            ));

    // Install the signal handlers before announcing readiness: a signal that arrives right
    // after the "listening" line must still be a graceful shutdown.
    let shutdown = shutdown_signal()?;
    println!("parlor media on udp://{}", router.advertised_addr());
    if let Some(tcp) = router.advertised_tcp_addr() {
        println!("parlor media on tcp://{tcp}");
    }
    if let Some(turn) = &embedded_turn {
        println!("parlor turn on udp://{} tcp://{}", turn.udp, turn.tcp);
        if let Some(tls) = turn.tls {
            println!("parlor turn on tls://{tls}");
        }
    }
    println!("parlor listening on {scheme}://{addr}");
    tracing::info!(%addr, media = %router.local_addr(), "serving");
    crate::http::serve(listener, app, http_limits, tls, shutdown).await;
    router.shutdown();
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Registers SIGINT and SIGTERM now and returns a future that completes on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutdown signal received; draining");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown signal received; draining");
        })
    }
}
