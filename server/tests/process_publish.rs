//! `fieldwork-server process import|publish`: BPMN files from modelers are
//! refused with every problem at once, and models whose assignees the
//! organisation does not know are refused at publish.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn server(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldwork-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run fieldwork-server")
}

fn fixture(name: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    p.to_str().expect("utf-8").to_owned()
}

#[test]
fn a_modelers_file_is_refused_with_every_problem_and_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = server(
        dir.path(),
        &[
            "process",
            "import",
            &fixture("camunda-modeler-unsupported-elements.bpmn"),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [7, 16, 20, 26, 39, 41, 45, 62] {
        assert!(
            err.contains(&format!("line {line}: <")),
            "line {line}:\n{err}"
        );
    }
    assert!(err.contains("(9 problems)"), "{err}");
    assert!(!err.contains("invalid record"), "{err}");
    let listed = server(dir.path(), &["process", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).trim().is_empty(),
        "nothing half-imported"
    );
    for ok in [
        "camunda-modeler-call-back-manual.bpmn",
        "camunda8-zeebe-onboarding-call.bpmn",
        "camunda-modeler-collaboration-lanes.bpmn",
    ] {
        let out = server(dir.path(), &["process", "import", &fixture(ok)]);
        assert!(
            out.status.success(),
            "{ok}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn unknown_roles_and_users_are_refused_at_publish_known_ones_are_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = |assignee: &str| {
        format!(
            "key = \"k\"\nname = \"n\"\ntrigger = {{ kind = \"manual\", record = \"account\" }}\n\
             [[steps]]\nid = \"a\"\nkind = \"task\"\nassignee = \"{assignee}\"\nsubject = \"Look\"\nnext = \"b\"\n\
             [[steps]]\nid = \"b\"\nkind = \"task\"\nassignee = \"user:nobody\"\nsubject = \"Look\"\nnext = \"e\"\n\
             [[steps]]\nid = \"e\"\nkind = \"end\"\n"
        )
    };
    let path = dir.path().join("model.toml");
    std::fs::write(&path, model("role:wizard")).expect("write");
    let path = path.to_str().expect("utf-8");
    let out = server(dir.path(), &["process", "publish", path]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("steps.a.assignee: the policy defines no role `wizard`")
            && err.contains("steps.b.assignee: no active user is called `nobody`"),
        "{err}"
    );
    let add = Command::new(env!("CARGO_BIN_EXE_fieldwork-server"))
        .arg("--data")
        .arg(dir.path())
        .args([
            "user",
            "add",
            "--name",
            "nobody",
            "--role",
            "rep",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(b"a long enough password\n")?;
            c.wait_with_output()
        })
        .expect("user add");
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    std::fs::write(path, model("role:manager")).expect("write");
    let out = server(dir.path(), &["process", "publish", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
