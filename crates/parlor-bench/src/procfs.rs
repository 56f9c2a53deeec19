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
    let fields = stat_fields(&stat)?;
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok(CpuSample {
        at: Instant::now(),
        cpu_s: (utime + stime) / ticks_per_second(),
    })
}

/// The fields of a `/proc/.../stat` line after the command (field 3, the state, first).
fn stat_fields(stat: &str) -> anyhow::Result<Vec<&str>> {
    // The command may contain spaces and parentheses: it ends at the last ')'.
    let close = stat
        .rfind(')')
        .ok_or_else(|| anyhow::anyhow!("bad /proc stat"))?;
    let fields: Vec<&str> = stat
        .get(close + 2..)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    anyhow::ensure!(fields.len() > 14, "short /proc stat line");
    Ok(fields)
}

/// User + system CPU seconds of the children `pid` has waited for (ffmpeg, ffprobe):
/// `cutime + cstime`.
pub fn children_cpu_s(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let f = stat_fields(&stat)?;
    let cutime: f64 = f[13].parse()?;
    let cstime: f64 = f[14].parse()?;
    Ok((cutime + cstime) / ticks_per_second())
}

/// One thread of a process and the CPU it has run.
#[derive(Debug, Clone)]
pub struct ThreadCpu {
    pub tid: u32,
    /// The thread's name (`comm`, at most 15 bytes).
    pub name: String,
    /// CPU seconds run: the scheduler's nanosecond count (`schedstat`) where the kernel
    /// has it, else user + system ticks from `stat`.
    pub cpu_s: f64,
    /// Times the thread was switched out without asking (`nonvoluntary_ctxt_switches`).
    pub preempted: u64,
}

/// Every live thread of `pid` with its CPU time. Threads that end between listing and
/// reading are skipped.
pub fn threads(pid: u32) -> anyhow::Result<Vec<ThreadCpu>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let cpu_s = match std::fs::read_to_string(dir.join("schedstat")) {
            Ok(s) => match s
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                Some(ns) => ns as f64 / 1e9,
                None => continue,
            },
            Err(_) => {
                let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
                    continue;
                };
                let f = stat_fields(&stat)?;
                (f[11].parse::<f64>()? + f[12].parse::<f64>()?) / ticks_per_second()
            }
        };
        let preempted = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        out.push(ThreadCpu {
            tid,
            name: name.trim_end().to_owned(),
            cpu_s,
            preempted,
        });
    }
    Ok(out)
}

/// CPU seconds the threads named `name` ran between two [`threads`] listings, counting
/// only threads alive in both (a thread's CPU from before `a` is not counted), and how
/// many such threads there were.
pub fn threads_cpu_between(a: &[ThreadCpu], b: &[ThreadCpu], name: &str) -> (f64, usize) {
    let mut total = 0.0;
    let mut n = 0;
    for t in b.iter().filter(|t| t.name == name) {
        if let Some(before) = a.iter().find(|x| x.tid == t.tid) {
            total += (t.cpu_s - before.cpu_s).max(0.0);
            n += 1;
        }
    }
    (total, n)
}

/// Times the threads named `name` were preempted between two [`threads`] listings
/// (threads alive in both).
pub fn threads_preempted_between(a: &[ThreadCpu], b: &[ThreadCpu], name: &str) -> u64 {
    b.iter()
        .filter(|t| t.name == name)
        .filter_map(|t| {
            let before = a.iter().find(|x| x.tid == t.tid)?;
            Some(t.preempted.saturating_sub(before.preempted))
        })
        .sum()
}

/// Moves the threads of `pid` named `name` onto `cpu` alone; returns how many moved.
pub fn pin_threads(pid: u32, name: &str, cpu: usize) -> anyhow::Result<usize> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    let mut moved = 0;
    for t in threads(pid)?.iter().filter(|t| t.name == name) {
        // SAFETY: `set` is a valid cpu_set_t; a tid that ended gives ESRCH.
        let r = unsafe {
            libc::sched_setaffinity(t.tid as i32, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        if r == 0 {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Lets every thread of `pid` (and the processes it starts from now on) run on all CPUs.
pub fn unpin_all(pid: u32) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..online_cpus() {
            libc::CPU_SET(cpu, &mut set);
        }
        set
    };
    for t in threads(pid)? {
        // SAFETY: `set` is a valid cpu_set_t; a tid that ended gives ESRCH, ignored.
        unsafe {
            libc::sched_setaffinity(t.tid as i32, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    Ok(())
}

/// Online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1, at most `CPU_SETSIZE`.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    (n.max(1) as usize).min(libc::CPU_SETSIZE as usize)
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

    #[test]
    fn counts_a_named_threads_cpu() {
        let me = std::process::id();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("bench-spin".into())
            .spawn(move || {
                // Named by now (a thread names itself as it starts).
                done_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                let t = Instant::now();
                let mut x = 0u64;
                while t.elapsed() < std::time::Duration::from_millis(200) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                done_tx.send(()).unwrap();
                // Stay alive until the second listing.
                go_rx.recv().unwrap();
            })
            .unwrap();
        done_rx.recv().unwrap();
        let a = threads(me).unwrap();
        assert!(a.iter().any(|t| t.name == "bench-spin"), "{a:?}");
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        let b = threads(me).unwrap();
        go_tx.send(()).unwrap();
        worker.join().unwrap();
        let (spin, n) = threads_cpu_between(&a, &b, "bench-spin");
        assert_eq!(n, 1);
        // It spun for 200 ms of wall time; on a busy machine it ran less, never more.
        assert!(spin > 0.02 && spin < 0.5, "{spin}");
        let (none, n) = threads_cpu_between(&a, &b, "no-such-thread");
        assert_eq!((none, n), (0.0, 0));
        assert!(children_cpu_s(me).unwrap() >= 0.0);
    }
}
