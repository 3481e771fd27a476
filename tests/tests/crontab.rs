//! `cronhost jobs import-crontab` through the real binary: a realistic crontab imported, its
//! jobs run (environment, `SHELL`, `%` as standard input, `HOME` as the directory), imported
//! again as nothing; bad lines refused by `FILE:LINE` with the store unchanged; `--dry-run`;
//! standard input; the system form's user column.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use cronhost_e2e::TestHome;
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cronhost jobs import-crontab ARGS...`.
fn import(home: &TestHome, args: &[&str]) -> Output {
    let mut full = vec!["jobs", "import-crontab"];
    full.extend_from_slice(args);
    home.cronhost(&full)
}

/// `import` that must succeed.
fn imported(home: &TestHome, args: &[&str]) -> Output {
    let output = import(home, args);
    assert!(
        output.status.success(),
        "import-crontab {args:?} failed: {}",
        text(&output.stderr)
    );
    output
}

/// The store's job set as `jobs export` prints it.
fn export(home: &TestHome) -> String {
    let output = home.cronhost(&["jobs", "export"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

fn jobs(home: &TestHome) -> Vec<Value> {
    home.json(&["jobs", "list", "--all", "--json"])["jobs"]
        .as_array()
        .expect("jobs list --json lists jobs")
        .clone()
}

/// The one listed job whose command contains `needle`.
fn job_with(jobs: &[Value], needle: &str) -> Value {
    let found: Vec<&Value> = jobs
        .iter()
        .filter(|job| job["command"].to_string().contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "one job runs `{needle}`: {jobs:#?}");
    found[0].clone()
}

/// `cronhost jobs run NAME`, which must succeed.
fn run(home: &TestHome, name: &str) {
    let output = home.cronhost(&["jobs", "run", name]);
    assert!(
        output.status.success(),
        "jobs run {name}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write the crontab");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn a_realistic_crontab_runs_as_cron_would_and_imports_once() {
    let home = TestHome::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();
    let crontab = write(
        work.path(),
        "crontab",
        &format!(
            "# m h dom mon dow command   (crontab -l of a real machine)
MAILTO=ops@example.com
GREETING = \"hello from cron\"
PLAIN='single quoted'
CRON_TZ=America/New_York
HOME={w}

30 2 * * 1-5 echo \"$GREETING, $PLAIN\" > {w}/env.out; pwd > {w}/pwd.out
SHELL=/bin/bash
@hourly [[ $SHELL == /bin/bash ]] && echo \"bash $BASH_VERSION\" > {w}/shell.out
@daily cat > {w}/stdin.out%first line%second \\% line%
0 0 */2 * 1 date +\\%Y > {w}/date.out
"
        ),
    );
    let output = imported(&home, &[&crontab]);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(stdout.contains("4 job(s) added"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("+ ")).count(),
        4,
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("{crontab}:2: MAILTO=ops@example.com is not used"))
            && stderr.contains("--on-failure"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{crontab}:12: day-of-month `*/2`")),
        "{stderr}"
    );

    let listed = jobs(&home);
    assert_eq!(listed.len(), 4, "{listed:#?}");
    let env = job_with(&listed, "GREETING");
    assert_eq!(env["schedule_text"], "30 2 * * 1-5");
    assert_eq!(env["timezone"], "America/New_York");
    assert_eq!(env["shell"], true);
    assert_eq!(env["env"]["GREETING"], "hello from cron");
    assert_eq!(env["env"]["PLAIN"], "single quoted");
    assert!(env["env"].get("MAILTO").is_none(), "{env}");
    assert!(env["env"].get("CRON_TZ").is_none(), "{env}");
    assert_eq!(env["workdir"], work.path().to_str().unwrap());
    let bash = job_with(&listed, "BASH_VERSION");
    assert_eq!(bash["shell"], false);
    assert_eq!(bash["command"][0], "/bin/bash");
    assert_eq!(bash["command"][1], "-c");
    assert_eq!(bash["schedule_text"], "@hourly");
    let stdin = job_with(&listed, "stdin.out");
    assert_eq!(stdin["schedule_text"], "@daily");
    let date = job_with(&listed, "date.out");
    assert_eq!(date["schedule_text"], "0 0 */2 * 1");

    for job in [&env, &bash, &stdin, &date] {
        run(&home, job["name"].as_str().unwrap());
    }
    let read = |name: &str| {
        std::fs::read_to_string(work.path().join(name))
            .unwrap_or_else(|e| panic!("{name} was not written: {e}"))
    };
    assert_eq!(read("env.out"), "hello from cron, single quoted\n");
    assert_eq!(read("pwd.out").trim_end(), work.path().to_str().unwrap());
    assert!(
        read("shell.out").starts_with("bash "),
        "{}",
        read("shell.out")
    );
    // cron's `%` rule: input after the first `%`, `%` as newlines, `\%` a `%`.
    assert_eq!(read("stdin.out"), "first line\nsecond % line\n");
    // `\%` reached `date` as `%`: a year, not `%Y` or an error.
    let year = read("date.out");
    assert!(
        year.trim_end().len() == 4 && year.trim_end().bytes().all(|b| b.is_ascii_digit()),
        "{year}"
    );

    // Again: every job is found by its name; nothing is added or changed.
    let before = export(&home);
    let output = imported(&home, &[&crontab]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("0 job(s) added, 0 changed, 4 already present"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("= ")).count(),
        4,
        "{stdout}"
    );
    assert_eq!(export(&home), before);
}

#[test]
fn a_bad_line_is_named_by_file_and_line_and_nothing_is_stored() {
    let home = TestHome::new();
    let work = tempfile::tempdir().unwrap();
    let kept = write(work.path(), "kept", "@hourly true\n");
    imported(&home, &[&kept]);
    let before = export(&home);
    let good = "# good lines first\n@daily echo a\n";
    for (bad, line, expected) in [
        ("0 25 * * * echo late", 3, "25"),
        ("@reboot /usr/bin/start-thing", 3, "@reboot"),
        ("0 3 * *", 3, "only 4 fields"),
        ("CRON_TZ=Mars/Olympus\n@daily x", 3, "Mars/Olympus"),
        ("@fortnightly x", 3, "@yearly @annually @monthly"),
        ("0 3 * * * %only input", 3, "`%`"),
    ] {
        let file = write(work.path(), "bad", &format!("{good}{bad}\n"));
        let output = import(&home, &[&file]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains(&format!("{file}:{line}: ")) && stderr.contains(expected),
            "{bad}: {stderr}"
        );
        assert!(stderr.contains("nothing was imported"), "{bad}: {stderr}");
        assert_eq!(export(&home), before, "{bad}: the store is unchanged");
    }
    // Every bad line is named, not only the first.
    let file = write(work.path(), "bad", "@reboot x\n@daily ok\nTZ=Nowhere\n");
    let stderr = text(&import(&home, &[&file]).stderr);
    assert!(
        stderr.contains(&format!("{file}:1: ")) && stderr.contains(&format!("{file}:3: TZ")),
        "{stderr}"
    );
    assert_eq!(export(&home), before);
}

#[test]
fn a_dry_run_stores_nothing_and_standard_input_is_read() {
    let home = TestHome::new();
    let tab = "MAILTO=\"\"\n*/10 * * * * echo tick\n@weekly /usr/bin/backup --full\n";
    let dry = imported(&home, &["-", "--dry-run"]);
    // Without input on stdin: an empty crontab, nothing to add.
    assert!(text(&dry.stdout).contains("0 job(s) would be added"));

    let with_stdin = |args: &[&str]| {
        let mut child = home
            .command()
            .args(["jobs", "import-crontab"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cronhost runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(tab.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        output
    };
    let dry = with_stdin(&["-", "--dry-run"]);
    let stdout = text(&dry.stdout);
    assert!(
        stdout.contains("2 job(s) would be added") && stdout.contains("nothing was stored"),
        "{stdout}"
    );
    assert!(
        text(&dry.stderr).is_empty(),
        "an empty MAILTO asks for no mail: {}",
        text(&dry.stderr)
    );
    let planned: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("+ "))
        .collect();
    assert_eq!(planned.len(), 2, "{stdout}");
    assert!(
        planned[0].contains("*/10 * * * *") && planned[0].contains("echo tick"),
        "{stdout}"
    );
    assert!(jobs(&home).is_empty(), "a dry run stores nothing");

    let real = with_stdin(&["-"]);
    let stdout = text(&real.stdout);
    assert!(stdout.contains("2 job(s) added"), "{stdout}");
    let names: Vec<String> = jobs(&home)
        .iter()
        .map(|job| job["name"].as_str().unwrap().to_owned())
        .collect();
    for line in planned {
        let name = line.split_whitespace().next().unwrap();
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("backup-")),
        "named after the program: {names:?}"
    );
}

/// The user running the tests, as the password database names them.
fn me() -> String {
    // SAFETY: getpwuid returns static storage or null; read at once, in this thread.
    unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        assert!(!entry.is_null(), "the test user has a passwd entry");
        std::ffi::CStr::from_ptr((*entry).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

#[test]
fn the_system_form_imports_this_users_lines_and_refuses_another_users() {
    let home = TestHome::new();
    let work = tempfile::tempdir().unwrap();
    let me = me();
    let other = if me == "root" { "daemon" } else { "root" };
    let w = work.path().display();
    let mine = write(
        work.path(),
        "cron.d-mine",
        &format!("SHELL=/bin/sh\n17 * * * * {me} echo system > {w}/system.out\n"),
    );
    let output = imported(&home, &["--system", &mine]);
    assert!(text(&output.stdout).contains("1 job(s) added"));
    let listed = jobs(&home);
    let job = job_with(&listed, "system.out");
    assert_eq!(job["schedule_text"], "17 * * * *");
    // The user column is not part of the command.
    assert_eq!(
        job["command"][0],
        format!("echo system > {}/system.out", work.path().display())
    );
    run(&home, job["name"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(work.path().join("system.out")).unwrap(),
        "system\n"
    );

    // Another user's line: refused by line, user and rule, and the whole file with it.
    let before = export(&home);
    let mixed = write(
        work.path(),
        "cron.d-mixed",
        &format!("@daily {me} echo mine\n@daily {other} echo theirs\n"),
    );
    let output = import(&home, &["--system", &mixed]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{mixed}:2: the line runs as `{other}`"))
            && stderr.contains(&format!("(`{me}`)"))
            && stderr.contains("no per-job user"),
        "{stderr}"
    );
    assert_eq!(export(&home), before);
    // Read as a user's crontab, the same line's user is its command's first word.
    let output = imported(&home, &[&mixed, "--dry-run"]);
    assert!(
        text(&output.stdout).contains(&format!("{other} echo theirs")),
        "{}",
        text(&output.stdout)
    );
}
