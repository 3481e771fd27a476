//! The crontab reader: lines, variables, aliases, names, the system form, warnings and errors.

use super::*;
use cronhost_core::schedule::ScheduleError;

fn options() -> CrontabOptions {
    CrontabOptions::new().account("alice", "/home/alice")
}

fn parse(text: &str) -> Crontab {
    Crontab::parse(text, "tab", &options()).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(text: &str, options: &CrontabOptions) -> Vec<LineError> {
    match Crontab::parse(text, "tab", options) {
        Err(CrontabError::Lines { errors, .. }) => errors,
        other => panic!("not refused by line: {other:?}"),
    }
}

fn spec(crontab: &Crontab, index: usize) -> &JobSpec {
    &crontab.jobs()[index].declared.spec
}

#[test]
fn job_lines_comments_and_aliases() {
    let crontab = parse(
        "# a comment\n\n   \t\n  # indented comment\n*/5  *\t* * *   echo  hi  \n@Daily run.sh\n@midnight x\n",
    );
    assert_eq!(crontab.jobs().len(), 3);
    let first = spec(&crontab, 0);
    assert_eq!(crontab.jobs()[0].line, 5);
    assert_eq!(first.schedule, "*/5 * * * *");
    // The command as written after the fields, trailing blanks and all (cron passes them on).
    assert_eq!(first.command, ["echo  hi  "]);
    assert!(first.shell);
    assert_eq!(first.workdir.as_deref(), Some("/home/alice"));
    assert!(first.env.is_empty());
    assert_eq!(first.timezone, None);
    assert_eq!(spec(&crontab, 1).schedule, "@daily");
    assert_eq!(spec(&crontab, 2).schedule, "@midnight");
    assert!(crontab.warnings().is_empty());
}

#[test]
fn variables_apply_to_the_jobs_below_them() {
    let crontab =
        parse("A=1\n0 1 * * * first\nB = \"two words\"\nA='one'\nHOME=/srv\n0 2 * * * second\n");
    assert_eq!(
        spec(&crontab, 0).env,
        BTreeMap::from([("A".into(), "1".into())])
    );
    let second = spec(&crontab, 1);
    assert_eq!(
        second.env,
        BTreeMap::from([
            ("A".into(), "one".into()),
            ("B".into(), "two words".into()),
            ("HOME".into(), "/srv".into()),
        ])
    );
    assert_eq!(second.workdir.as_deref(), Some("/srv"));
    assert_eq!(spec(&crontab, 0).workdir.as_deref(), Some("/home/alice"));
}

#[test]
fn zones_come_from_cron_tz_then_tz() {
    let crontab = parse(
        "TZ=:America/New_York\n0 1 * * * a\nCRON_TZ=Europe/Berlin\n0 2 * * * b\nCRON_TZ=\n0 3 * * * c\n",
    );
    assert_eq!(
        spec(&crontab, 0).timezone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(spec(&crontab, 1).timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        spec(&crontab, 2).timezone.as_deref(),
        Some("America/New_York")
    );
    // TZ reaches the job's programs; CRON_TZ is cron's own.
    assert_eq!(
        spec(&crontab, 1).env.get("TZ").map(String::as_str),
        Some(":America/New_York")
    );
    assert!(!spec(&crontab, 1).env.contains_key("CRON_TZ"));

    let errors = refused(
        "0 1 * * * a\nCRON_TZ=Mars/Olympus\nTZ=Nowhere\n",
        &options(),
    );
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].line, 2);
    assert!(matches!(
        &errors[0].problem,
        LineProblem::Zone { variable, source: ScheduleError::UnknownZone(_) } if variable == "CRON_TZ"
    ));
    assert_eq!(errors[1].line, 3);
}

#[test]
fn a_shell_other_than_sh_runs_the_line_itself() {
    let crontab = parse(
        "0 1 * * * plain\nSHELL=/bin/bash\n0 2 * * * [[ -n x ]] && echo bash\nSHELL=/bin/sh\n0 3 * * * again\n",
    );
    assert!(spec(&crontab, 0).shell);
    let bash = spec(&crontab, 1);
    assert!(!bash.shell);
    assert_eq!(bash.command, ["/bin/bash", "-c", "[[ -n x ]] && echo bash"]);
    assert_eq!(bash.env.get("SHELL").map(String::as_str), Some("/bin/bash"));
    let again = spec(&crontab, 2);
    assert!(again.shell);
    assert_eq!(again.command, ["again"]);
}

#[test]
fn percent_signs_give_standard_input() {
    let crontab = parse("0 1 * * * cat > /tmp/x%line one%line two\n0 2 * * * date +\\%F\n");
    assert_eq!(
        spec(&crontab, 0).command,
        ["printf '%s' 'line one\nline two' | (\ncat > /tmp/x\n)"]
    );
    assert_eq!(spec(&crontab, 1).command, ["date +%F"]);
    let errors = refused("0 1 * * * %input only\n", &options());
    assert!(matches!(errors[0].problem, LineProblem::EmptyCommand));
}

#[test]
fn mail_is_not_sent_and_says_so() {
    let crontab = parse("MAILTO=ops@example.com\nMAILTO=\"\"\nMAILFROM=cron@host\n@daily x\n");
    let lines: Vec<usize> = crontab.warnings().iter().map(|w| w.line).collect();
    assert_eq!(
        lines,
        [1, 3],
        "an empty MAILTO asks for no mail: nothing to warn of"
    );
    let text = crontab.warnings()[0].warning.to_string();
    assert!(
        text.contains("--on-failure") && text.contains("ops@example.com"),
        "{text}"
    );
    assert!(
        spec(&crontab, 0).env.is_empty(),
        "MAILTO and MAILFROM are cron's"
    );
}

#[test]
fn day_fields_starting_with_a_star_are_warned_of() {
    let crontab = parse(
        "0 0 */2 * 1 both\n0 0 1 * */2 again\n0 0 */2 * * fine\n0 0 * * 1 fine\n0 0 1 * 1 fine\n",
    );
    let lines: Vec<usize> = crontab.warnings().iter().map(|w| w.line).collect();
    assert_eq!(lines, [1, 2]);
    assert!(matches!(
        &crontab.warnings()[0].warning,
        Warning::DaysCombined { day_of_month, day_of_week } if day_of_month == "*/2" && day_of_week == "1"
    ));
}

#[test]
fn names_are_readable_and_stable() {
    let a = parse("0 3 * * * /usr/local/bin/Back_up.sh --all\n");
    let name = spec(&a, 0).name.clone().unwrap();
    assert!(name.starts_with("back-up-sh-"), "{name}");
    assert_eq!(name.len(), "back-up-sh-".len() + 8);
    // The same line anywhere in the file, with other comments and blanks, is the same job.
    let b = parse("# moved\n\n0  3 * * *   /usr/local/bin/Back_up.sh --all\n");
    assert_eq!(spec(&b, 0).name.as_deref(), Some(name.as_str()));
    // Anything that changes the job changes the name.
    let name_of = |text: &str| spec(&parse(text), 0).name.clone().unwrap();
    for other in [
        "0 4 * * * /usr/local/bin/Back_up.sh --all\n",
        "CRON_TZ=UTC\n0 3 * * * /usr/local/bin/Back_up.sh --all\n",
        "X=1\n0 3 * * * /usr/local/bin/Back_up.sh --all\n",
        "SHELL=/bin/bash\n0 3 * * * /usr/local/bin/Back_up.sh --all\n",
        "HOME=/srv\n0 3 * * * /usr/local/bin/Back_up.sh --all\n",
        "0 3 * * * /usr/local/bin/Back_up.sh --all%in\n",
    ] {
        assert_ne!(name_of(other), name, "{other}");
    }
    // A trailing `%` gives no input: the same job, the same name.
    assert_eq!(
        name_of("0 3 * * * /usr/local/bin/Back_up.sh --all%\n"),
        name
    );
    let odd = parse("@daily FOO=1 '/x/y z'\n@daily ***\n");
    assert!(spec(&odd, 0).name.as_deref().unwrap().starts_with("y-"));
    assert!(spec(&odd, 1).name.as_deref().unwrap().starts_with("job-"));
}

#[test]
fn repeated_lines_are_two_jobs() {
    let crontab = parse("@hourly ping\n@hourly ping\n@hourly ping\n");
    let names: Vec<String> = crontab
        .jobs()
        .iter()
        .map(|job| job.declared.spec.name.clone().unwrap())
        .collect();
    assert_eq!(names[1], format!("{}-2", names[0]));
    assert_eq!(names[2], format!("{}-3", names[0]));
    assert_eq!(
        crontab.warnings()[1],
        LineWarning {
            line: 3,
            warning: Warning::Repeated { first: 1 }
        }
    );
}

#[test]
fn bad_lines_are_all_named_with_what_is_allowed() {
    let errors = refused(
        "@reboot /usr/bin/start-thing\n0 * * *\n0 * * * *\n@weekdays x\nA='open\nHOME=relative\n@daily ok\n",
        &options(),
    );
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6]);
    assert!(matches!(errors[0].problem, LineProblem::Reboot));
    assert!(matches!(
        errors[1].problem,
        LineProblem::Incomplete {
            found: 4,
            system: false
        }
    ));
    assert!(matches!(
        errors[2].problem,
        LineProblem::Incomplete { found: 5, .. }
    ));
    assert!(matches!(errors[3].problem, LineProblem::UnknownAlias(_)));
    assert!(matches!(errors[4].problem, LineProblem::Quoting { .. }));
    assert!(matches!(errors[5].problem, LineProblem::RelativeHome(_)));
    let message = Crontab::parse("x\n@reboot y\n", "my.tab", &options())
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("my.tab:1: a job line is `minute hour"),
        "{message}"
    );
    assert!(
        message.contains("\nmy.tab:2: `@reboot` cannot be imported"),
        "{message}"
    );
    assert!(message.contains("systemd unit"), "{message}");
}

#[test]
fn the_system_form_takes_the_importing_users_lines_only() {
    let system = options().system(true);
    let crontab = Crontab::parse(
        "SHELL=/bin/bash\n17 * * * * alice cd / && run-parts --report /etc/cron.hourly\n@daily alice   true\n",
        "/etc/crontab",
        &system,
    )
    .unwrap();
    assert_eq!(
        spec(&crontab, 0).command,
        [
            "/bin/bash",
            "-c",
            "cd / && run-parts --report /etc/cron.hourly"
        ]
    );
    assert_eq!(spec(&crontab, 1).command, ["/bin/bash", "-c", "true"]);
    assert_eq!(spec(&crontab, 1).schedule, "@daily");

    let errors = refused(
        "@daily alice true\n0 1 * * * root true\n0 1 * * * alice\n",
        &system,
    );
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].line, 2);
    assert!(matches!(
        &errors[0].problem,
        LineProblem::OtherUser { user, importing: Some(me) } if user == "root" && me == "alice"
    ));
    let message = errors[0].problem.to_string();
    assert!(
        message.contains("`root`") && message.contains("`alice`"),
        "{message}"
    );
    assert!(matches!(
        errors[1].problem,
        LineProblem::Incomplete {
            found: 6,
            system: true
        }
    ));
    // Read as a user's crontab, the user column would be the command's first word.
    assert_eq!(
        spec(&parse("0 1 * * * root true\n"), 0).command,
        ["root true"]
    );
}

#[test]
fn nul_bytes_are_refused_by_line() {
    let errors = refused("@daily ok\n@daily a\0b\nX=\0\n", &options());
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3]);
    assert!(errors.iter().all(|e| matches!(e.problem, LineProblem::Nul)));
}
