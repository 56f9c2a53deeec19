//! A private network namespace for runs that include Janus.
//!
//! Janus (libnice) gathers no ICE candidates on loopback interfaces, and the bench must not
//! send traffic beyond this machine's loopback. So the bench re-runs itself in a fresh
//! network namespace (`unshare --net`, needs root) where a veth interface carries the
//! loopback-range address [`MEDIA_IP`]: Janus gathers it, and every packet stays inside
//! the namespace. Parlor runs in the same namespace, so both systems share the conditions.

use std::net::IpAddr;
use std::process::Command;

/// The address clients and Janus use inside the namespace.
pub const MEDIA_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

const MARK: &str = "PARLOR_BENCH_NETNS";

/// Whether this process runs inside the bench's namespace.
pub fn inside() -> bool {
    std::env::var_os(MARK).is_some()
}

/// Re-runs this command in a new network namespace; returns its exit code.
pub fn rerun_inside() -> anyhow::Result<i32> {
    let exe = std::env::current_exe()?;
    let setup = "ip link set lo up && ip link add pb0 type veth peer name pb1 \
                 && ip addr add 127.0.0.2/32 dev pb0 && ip link set pb0 up && ip link set pb1 up \
                 && exec \"$0\" \"$@\"";
    let status = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", setup])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(MARK, "1")
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run unshare (util-linux, root needed): {e}"))?;
    Ok(status.code().unwrap_or(1))
}
