//! The machine's floor for starting commands at an instant: the cheapest loop there is
//! (`posix_spawn` of each command in its own process group, no bookkeeping), in a small child
//! process of its own, so a benchmark can print its burst figures as a ratio to what this
//! machine can do in the same run.

use std::ffi::CString;
use std::time::Duration;

/// Set (to the request as JSON) in the environment of the floor's child process.
const FLOOR_CHILD: &str = "CRONHOST_FLOOR_CHILD";

/// What the floor measured: the lateness of every start and the CPU the loop itself used.
#[derive(Debug, Clone)]
pub struct Floor {
    /// Per start: the instant `posix_spawn` returned minus the instant the burst was due, in
    /// whole milliseconds (as the store's `started_at − scheduled_at`).
    pub late_ms: Vec<i64>,
    /// CPU seconds (user + system) the loop's own process used for all the starts, reaping
    /// included; the commands' own CPU is not in it.
    pub cpu_secs: f64,
}

/// In a benchmark's `main`, first thing: when this process is the floor's child, run the
/// floor and exit.
pub fn serve_if_asked() {
    let Ok(request) = std::env::var(FLOOR_CHILD) else {
        return;
    };
    let request: serde_json::Value = serde_json::from_str(&request).expect("floor request");
    let number = |key: &str| request[key].as_u64().expect("floor request field") as usize;
    let floor = run_floor(number("jobs"), number("bursts"), number("every_ms") as i64);
    println!(
        "{}",
        serde_json::json!({ "late": floor.late_ms, "cpu": floor.cpu_secs })
    );
    std::process::exit(0);
}

/// Start `jobs` copies of `true` at each of `bursts` instants on the `every`-wide grid of the
/// clock (the same instants `*/N` schedules fall on), from a child process of this binary,
/// which must call [`serve_if_asked`] first thing.
pub fn burst_floor(jobs: usize, bursts: usize, every: Duration) -> Floor {
    let request = serde_json::json!({
        "jobs": jobs,
        "bursts": bursts,
        "every_ms": every.as_millis() as u64,
    });
    let output = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .env(FLOOR_CHILD, request.to_string())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("the floor's child runs");
    assert!(output.status.success(), "the floor's child failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or("{}")).expect("the floor's JSON");
    Floor {
        late_ms: json["late"]
            .as_array()
            .expect("the floor's lateness")
            .iter()
            .filter_map(|v| v.as_i64())
            .collect(),
        cpu_secs: json["cpu"].as_f64().unwrap_or(0.0),
    }
}

fn epoch_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// CPU seconds this process has used (user + system).
pub fn own_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn run_floor(jobs: usize, bursts: usize, every_ms: i64) -> Floor {
    let program = CString::new("true").expect("no NUL");
    let argv = [program.as_ptr(), std::ptr::null()];
    extern "C" {
        static environ: *const *mut libc::c_char;
    }
    // SAFETY: the attribute object is initialised before use and destroyed at the end.
    let mut attr = unsafe {
        let mut attr = std::mem::zeroed::<libc::posix_spawnattr_t>();
        assert_eq!(libc::posix_spawnattr_init(&mut attr), 0);
        assert_eq!(
            libc::posix_spawnattr_setflags(&mut attr, libc::POSIX_SPAWN_SETPGROUP as _),
            0
        );
        assert_eq!(libc::posix_spawnattr_setpgroup(&mut attr, 0), 0);
        attr
    };
    let mut late = Vec::with_capacity(jobs * bursts);
    let mut pids = Vec::with_capacity(jobs);
    let mut cpu = 0.0;
    for _ in 0..bursts {
        // The next instant on the grid at least 300 ms away.
        let due = (epoch_ms() + 300 + every_ms) / every_ms * every_ms;
        let wait = due - epoch_ms();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
        while epoch_ms() < due {
            std::hint::spin_loop();
        }
        let began = own_cpu_secs();
        for _ in 0..jobs {
            let mut pid: libc::pid_t = 0;
            // SAFETY: program and argv are NUL-terminated and outlive the call; attr is
            // initialised; environ is the process's environment.
            let rc = unsafe {
                libc::posix_spawnp(
                    &mut pid,
                    program.as_ptr(),
                    std::ptr::null(),
                    &attr,
                    argv.as_ptr() as *const *mut libc::c_char,
                    environ,
                )
            };
            late.push(epoch_ms() - due);
            assert_eq!(rc, 0, "posix_spawnp failed");
            pids.push(pid);
        }
        for pid in pids.drain(..) {
            let mut status = 0;
            // SAFETY: pid is a child of this process.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
        cpu += own_cpu_secs() - began;
    }
    // SAFETY: initialised above.
    unsafe { libc::posix_spawnattr_destroy(&mut attr) };
    Floor {
        late_ms: late,
        cpu_secs: cpu,
    }
}
