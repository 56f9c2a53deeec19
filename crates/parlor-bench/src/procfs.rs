//! What the system under test costs: CPU time and memory from `/proc`, and CPU pinning.

use std::time::Instant;

/// A sample of a process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub at: Instant,
    /// user + system time, seconds.
    pub cpu_s: f64,
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// User + system CPU seconds of `pid` (all its threads).
pub fn cpu(pid: u32) -> anyhow::Result<CpuSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may contain spaces) start after the last ')'.
    let rest = &stat[stat
        .rfind(')')
        .ok_or_else(|| anyhow::anyhow!("bad /proc stat"))?
        + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok(CpuSample {
        at: Instant::now(),
        cpu_s: (utime + stime) / ticks_per_second(),
    })
}

/// Resident set size of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    let kb: u64 = line.split_whitespace().nth(1).unwrap_or("0").parse()?;
    Ok(kb * 1024)
}

/// Pins the calling process (and the threads it creates from now on) to `cpu`.
pub fn pin_self(cpu: usize) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it; pid 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            anyhow::bail!(
                "sched_setaffinity({cpu}): {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Stops a child process: SIGTERM, up to 5 s for it to exit, then SIGKILL.
pub fn stop(child: &mut std::process::Child) {
    // SAFETY: kill(2) on a pid this process spawned and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The `p`-quantile (0–1) of `values` in milliseconds.
pub fn percentile_ms(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_rss() {
        let me = std::process::id();
        let a = cpu(me).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = cpu(me).unwrap();
        assert!(b.cpu_s > a.cpu_s, "{} > {}", b.cpu_s, a.cpu_s);
        assert!(rss_bytes(me).unwrap() > 1 << 20);
        assert_eq!(percentile_ms(&mut [3.0, 1.0, 2.0], 0.5), 2.0);
    }
}
