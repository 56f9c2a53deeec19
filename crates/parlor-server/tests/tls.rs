//! HTTPS and WSS from `parlor serve --tls-cert --tls-key`, with a CA and certificates made
//! in the test (openssl CLI): the Rust SDK over https:// trusting the test CA, a native
//! client over wss:// (`parlor client subscribe` with PARLOR_CA_FILE), refusals without the
//! CA and of plain HTTP, and the certificate reloaded on file change and on SIGHUP (a bad
//! file keeps the current one).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{API_KEY, API_SECRET, Server};

fn sh(cmd: &str) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (`ca.pem`, `ca.key`) in `dir`.
fn make_ca(dir: &Path) -> PathBuf {
    sh(&format!(
        "cd {} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
         -keyout ca.key -out ca.pem -days 2 -subj '/CN=Parlor Test CA' \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null",
        dir.display()
    ));
    dir.join("ca.pem")
}

/// A server certificate for 127.0.0.1 and localhost, signed by the CA, with `serial`;
/// written to `name.pem` / `name.key` in `dir`.
fn make_cert(dir: &Path, name: &str, serial: u32) -> (PathBuf, PathBuf) {
    sh(&format!(
        "cd {d} && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
         -keyout {name}.key -out {name}.csr -subj '/CN=localhost' 2>/dev/null && \
         printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > {name}.ext && \
         openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -set_serial {serial} \
         -out {name}.pem -days 2 -extfile {name}.ext 2>/dev/null",
        d = dir.display()
    ));
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// The serial number (hex, as openssl prints it) of the certificate the server presents.
fn served_serial(url: &str) -> String {
    let authority = url.trim_start_matches("https://");
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "openssl s_client -connect {authority} -servername localhost </dev/null 2>/dev/null \
                 | openssl x509 -noout -serial"
            ),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_owned()
}

fn wait_for_serial(url: &str, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = served_serial(url);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "served serial {got}, expected {want}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn trusting(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_a_private_ca_and_live_reload() {
    let certs = tempfile::tempdir().unwrap();
    let ca = make_ca(certs.path());
    let (cert, key) = make_cert(certs.path(), "a", 0x1001);
    let (live_cert, live_key) = (certs.path().join("live.pem"), certs.path().join("live.key"));
    std::fs::copy(&cert, &live_cert).unwrap();
    std::fs::copy(&key, &live_key).unwrap();
    let server = Server::start_with(&[
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
        "--tls-cert",
        live_cert.to_str().unwrap(),
        "--tls-key",
        live_key.to_str().unwrap(),
    ]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    // REST over HTTPS with the Rust SDK trusting the test CA.
    let sdk = parlor_sdk::Parlor::new(API_KEY, API_SECRET, &server.url)
        .unwrap()
        .with_http_client(trusting(&ca));
    let session = sdk.create_session(Default::default()).await.unwrap();
    let token = sdk
        .generate_token(&session.session_id, Default::default())
        .unwrap();
    // Without the CA the certificate is refused; plain HTTP on the TLS port gets nothing.
    let untrusting = parlor_sdk::Parlor::new(API_KEY, API_SECRET, &server.url).unwrap();
    let refused = untrusting.stats().await.unwrap_err().to_string();
    assert!(!refused.is_empty());
    let plain = server.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/health")).await.is_err());

    // A native client over wss:// with PARLOR_CA_FILE; without it, refused.
    let subscribe = |with_ca: bool| {
        let mut cmd = server.parlor_cmd();
        cmd.args([
            "client",
            "subscribe",
            "--url",
            &server.url,
            "--token",
            &token,
        ])
        .args(["--duration", "0.5", "--json"]);
        if with_ca {
            cmd.env("PARLOR_CA_FILE", &ca);
        } else {
            cmd.env_remove("PARLOR_CA_FILE");
        }
        cmd.output().unwrap()
    };
    let out = subscribe(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"event\":\"sessionConnected\""));
    let out = subscribe(false);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Reload on file change: the next handshake presents the new certificate.
    assert_eq!(served_serial(&server.url), "1001");
    let (cert_b, key_b) = make_cert(certs.path(), "b", 0x2002);
    std::fs::copy(&key_b, &live_key).unwrap();
    std::fs::copy(&cert_b, &live_cert).unwrap();
    wait_for_serial(&server.url, "2002", 10);
    sdk.stats().await.unwrap();

    // A broken file keeps the current certificate.
    std::fs::write(&live_cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(served_serial(&server.url), "2002");

    // SIGHUP reloads even when the files' modification times say nothing changed: the new
    // files get the current files' times before they are renamed into place, so the poller
    // cannot see them.
    let (cert_c, key_c) = make_cert(certs.path(), "c", 0x3003);
    sh(&format!(
        "touch -r {live_cert} {cert_c} && touch -r {live_key} {key_c} && mv {cert_c} {live_cert} && mv {key_c} {live_key}",
        live_cert = live_cert.display(),
        live_key = live_key.display(),
        cert_c = cert_c.display(),
        key_c = key_c.display()
    ));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        served_serial(&server.url),
        "2002",
        "the poller saw no change"
    );
    sh(&format!("kill -HUP {}", server.pid()));
    wait_for_serial(&server.url, "3003", 10);
}
