//! The processes pages of the web app in a real browser (headless
//! Chromium through chromedriver, as in [`super::web`]): publishing a BPMN
//! model with every problem of a refused file listed, the instance list,
//! the process card with its steps and controls per rights, and the
//! monitor with failed instances and the drawing of a model.

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::browser::Browser;
use fieldwork_tests::clocked::{World, repo, world};
use fieldwork_tests::runtime;
use serde_json::{Value, json};

use super::web::{
    Forms, WAIT, anas_deal_in_proposal, browser, csrf_of_page, eventually, id_of, instances_of,
    one_at_a_time, shot, sign_in, win_on_the_board,
};

/// A BPMN file with two problems: a service task without
/// `fieldwork:action` (line 5) and a call activity whose called process is
/// an expression Fieldwork cannot evaluate (line 6).
const TWO_PROBLEMS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:fieldwork="https://fieldwork.example/bpmn" id="Definitions_quote" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="quote-follow-up" name="Follow up a quote" isExecutable="true">
    <bpmn:startEvent id="start" name="Start" fieldwork:record="deal" />
    <bpmn:serviceTask id="remind" name="Remind the customer" />
    <bpmn:callActivity id="mail" name="Mail the quote" calledElement="${quoteMail}" />
    <bpmn:endEvent id="end" name="Done" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="remind" />
    <bpmn:sequenceFlow id="f2" sourceRef="remind" targetRef="mail" />
    <bpmn:sequenceFlow id="f3" sourceRef="mail" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"#;

/// A valid BPMN file: when a deal is won, its owner calls the customer,
/// then sends the offer; both are tasks the instance waits for.
const DEAL_WON_CALL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:fieldwork="https://fieldwork.example/bpmn" id="Definitions_won" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="deal-won-call" name="Call after a won deal" isExecutable="true">
    <bpmn:startEvent id="won" name="Deal won" fieldwork:record="deal">
      <bpmn:conditionalEventDefinition id="won-condition">
        <bpmn:condition>${deal.stage == "won"}</bpmn:condition>
      </bpmn:conditionalEventDefinition>
    </bpmn:startEvent>
    <bpmn:userTask id="call" name="Call the customer" fieldwork:assignee="owner" fieldwork:subject="Call about {name}" fieldwork:due="P2D" />
    <bpmn:userTask id="offer" name="Send the offer" fieldwork:assignee="owner" fieldwork:subject="Send the offer for {name}" fieldwork:due="P5D" />
    <bpmn:endEvent id="done" name="Followed up" />
    <bpmn:sequenceFlow id="f1" sourceRef="won" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="offer" />
    <bpmn:sequenceFlow id="f3" sourceRef="offer" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"#;

/// A model whose automatic step breaks the rule book (a lost deal needs a
/// reason): its instances fail.
const GIVE_UP: &str = r#"
key = "give-up"
name = "Mark the deal lost"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "lose"
name = "Set the stage to lost"
kind = "set"
field = "stage"
value = "lost"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

/// A model started by hand on a deal: one call, then done. Version 2
/// only renames it.
fn manual_call(version_name: &str) -> String {
    format!(
        r#"
key = "manual-call"
name = "{version_name}"
trigger = {{ kind = "manual", record = "deal" }}

[[steps]]
id = "call"
name = "Call the customer"
kind = "task"
assignee = "owner"
subject = "Call about {{name}}"
due = "P2D"
next = "done"

[[steps]]
id = "done"
name = "Done"
kind = "end"
"#
    )
}

/// The shipped policy with managers allowed to publish models.
fn policy_where_managers_publish() -> String {
    let shipped = std::fs::read_to_string(repo("core/policy.default.toml")).expect("policy");
    let (head, manager) = shipped
        .split_once("[roles.manager]")
        .expect("a manager role");
    let end = manager.find("[roles.").unwrap_or(manager.len());
    let (section, rest) = manager.split_at(end);
    assert!(section.contains("publish = false"), "{section}");
    format!(
        "{head}[roles.manager]{}{rest}",
        section.replace("publish = false", "publish = true")
    )
}

/// Puts `text` into the upload form's text area and submits it.
fn upload(b: &Browser, w: &World, format: &str, text: &str) {
    b.goto(&format!("{}/web/processes", w.server.url));
    b.click(&b.find(&format!("#format option[value='{format}']")));
    b.execute(
        "document.querySelector('#source').value = arguments[0];",
        vec![json!(text)],
    );
    b.click(&b.find("#publish-model"));
}

/// The text content of the first element matching `selector`.
fn content(b: &Browser, selector: &str) -> String {
    b.execute(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        vec![json!(selector)],
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Every visible input, select and text area of the page has a label.
fn every_input_is_labelled(b: &Browser) {
    let unlabelled = b.execute(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !e.id || !document.querySelector('label[for=\"' + e.id + '\"]'))
            .map(e => e.outerHTML);",
        vec![],
    );
    assert_eq!(unlabelled, json!([]), "inputs without a label");
}

/// Signs out of the web app.
fn sign_out(b: &Browser) {
    b.click(&b.find("form.signout button"));
    b.wait_for("the sign-in page", WAIT, |b| b.try_find("#user").is_some());
}

#[test]
fn a_manager_sees_every_problem_of_a_bpmn_file_and_publishes_a_valid_one() {
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    w.server
        .set_policy(&policy_where_managers_publish())
        .expect("policy");
    let b = browser(&rt);

    // A rep may not publish: no form, the rule named; a hand-made POST of
    // a valid model is refused by the server and publishes nothing.
    sign_in(&b, &w.server, "ana");
    b.goto(&format!("{}/web/processes", w.server.url));
    assert!(b.try_find("#source").is_none(), "no upload form for a rep");
    let refusal = b.text(&b.find("#publish-refused"));
    assert!(refusal.contains("roles.rep.process.publish"), "{refusal}");
    let forms = Forms::of(&b, &rt, &w.server.url);
    let csrf = csrf_of_page(&b);
    let forged = forms.post(
        "/web/processes/models",
        &[
            ("csrf", &csrf),
            ("format", "bpmn"),
            ("source", DEAL_WON_CALL),
        ],
        Some(&w.server.url),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("may not publish"), "{}", forged.body);
    // Without the form token: refused before anything is read.
    let tokenless = forms.post(
        "/web/processes/models",
        &[("format", "bpmn"), ("source", DEAL_WON_CALL)],
        Some(&w.server.url),
    );
    assert_eq!(tokenless.status, 403, "{}", tokenless.body);
    let admin = ApiClient::signed_in(&rt, &w.server.url, "admin");
    let models = admin.get("/v1/processes/models");
    assert_eq!(models.json, json!([]), "nothing published: {}", models.text);
    sign_out(&b);

    // The manager: the Processes link, the form, and both problems listed.
    sign_in(&b, &w.server, "mia");
    b.click(&b.find("header nav a[href='/web/processes']"));
    b.wait_for("the processes page", WAIT, |b| {
        b.try_find("#no-models").is_some()
    });
    assert_eq!(
        b.execute(
            "return document.querySelector(\"header nav a[href='/web/processes']\").getAttribute('aria-current');",
            vec![],
        ),
        json!("page")
    );
    upload(&b, &w, "bpmn", TWO_PROBLEMS);
    b.wait_for("the problems", WAIT, |b| b.try_find("#problems").is_some());
    let n = b.find_all("#problems tr.problem").len();
    let lines: Vec<String> = (1..=n)
        .map(|i| content(&b, &format!("#problems tr.problem:nth-child({i}) td.line")))
        .collect();
    let elements: Vec<String> = (1..=n)
        .map(|i| {
            content(
                &b,
                &format!("#problems tr.problem:nth-child({i}) td.element"),
            )
        })
        .collect();
    let messages: Vec<String> = (1..=n)
        .map(|i| {
            content(
                &b,
                &format!("#problems tr.problem:nth-child({i}) td.message"),
            )
        })
        .collect();
    assert_eq!(n, 2, "both problems: {lines:?} {elements:?} {messages:?}");
    assert_eq!(lines, ["5", "6"], "{elements:?} {messages:?}");
    assert!(
        elements[0].contains("<serviceTask>") && elements[0].contains("remind"),
        "{elements:?}"
    );
    assert!(messages[0].contains("fieldwork:action"), "{messages:?}");
    assert!(
        elements[1].contains("<callActivity>") && elements[1].contains("Mail the quote"),
        "{elements:?}"
    );
    assert!(messages[1].contains("expression"), "{messages:?}");
    shot(&b, "process-problems");
    assert!(
        b.text(&b.find("#publish-error")).contains("2 problems"),
        "the count is said"
    );
    // What was pasted is kept, and nothing was published.
    assert_eq!(b.value_of("#source").as_deref(), Some(TWO_PROBLEMS));
    assert_eq!(admin.get("/v1/processes/models").json, json!([]));

    // A valid file: published as version 1 by mia, listed on the page.
    upload(&b, &w, "bpmn", DEAL_WON_CALL);
    b.wait_for("the published model", WAIT, |b| {
        b.try_find("#process-notice").is_some()
    });
    assert!(b.url().contains("/web/processes?published=deal-won-call"));
    let row = b.text(&b.find("[id='model-deal-won-call-1']"));
    assert!(row.contains("Call after a won deal"), "{row}");
    assert!(row.contains("mia"), "published by mia: {row}");
    assert!(row.contains("2027-01-04"), "published today: {row}");
    shot(&b, "processes");
    every_input_is_labelled(&b);
    // Again: version 2, listed first, the older one kept.
    upload(&b, &w, "bpmn", DEAL_WON_CALL);
    b.wait_for("version 2", WAIT, |b| {
        b.try_find("[id='model-deal-won-call-2']").is_some()
    });
    assert!(b.try_find("[id='model-deal-won-call-1']").is_some());
    let models = admin.get("/v1/processes/models");
    let versions: Vec<i64> = models
        .json
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["version"].as_i64())
        .collect();
    assert_eq!(versions, [1, 2], "{}", models.text);
    assert_eq!(models.json[1]["publisher"], "mia");
}

/// The card's rows of steps: (step id, via, by).
fn steps_on_card(b: &Browser) -> Vec<(String, String, String)> {
    let n = b.find_all("#steps tr.step").len();
    (1..=n)
        .map(|i| {
            let row = format!("#steps tr.step:nth-child({i})");
            let step = b
                .execute(
                    "return document.querySelector(arguments[0]).dataset.step;",
                    vec![json!(row)],
                )
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (
                step,
                content(b, &format!("{row} td.via")),
                content(b, &format!("{row} td.by")),
            )
        })
        .collect()
}

#[test]
fn instances_cards_controls_per_rights_and_the_monitor_in_the_browser() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    for (format, text) in [
        (ModelFormat::Bpmn, DEAL_WON_CALL),
        (ModelFormat::Toml, GIVE_UP),
    ] {
        let model = parse_model(format, text).expect("model");
        publish(&w.server.state, model, "admin").expect("publish");
    }
    // Ana's deal in Madrid; the manager moves it to won on the board.
    let (account, deal) = anas_deal_in_proposal(&rt, &w.server, "Pérez Hermanos", "Vans");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/pipeline", w.server.url));
    win_on_the_board(&b, &deal);
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    eventually("the process to start", || {
        !instances_of(&mia, "deal-won-call").is_empty()
    });
    let instance = instances_of(&mia, "deal-won-call")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Ana calls the customer: the first task done, by her.
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    let task = card.json["steps"][0]["activity"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the task: {}", card.text))
        .to_owned();
    let done = ana.post(&format!("/v1/tasks/{task}/complete"), json!({}));
    assert!(done.status < 300, "{}", done.text);
    eventually("the instance at the offer", || {
        mia.get(&format!("/v1/processes/instances/{instance}")).json["current"] == "offer"
    });

    // The list: the instance, its model, status and step; filters.
    b.goto(&format!("{}/web/processes/instances", w.server.url));
    let row = format!("tr.instance[data-instance='{instance}']");
    let text = b.text(&b.find(&row));
    assert!(text.contains("deal-won-call v1"), "{text}");
    assert!(text.contains("running") && text.contains("offer"), "{text}");
    assert!(text.contains(&deal), "runs on the deal: {text}");
    b.click(&b.find("#status option[value='completed']"));
    b.click(&b.find("#filter-instances"));
    b.wait_for("the filtered list", WAIT, |b| {
        b.url().contains("status=completed") && b.try_find("#no-instances").is_some()
    });
    b.goto(&format!(
        "{}/web/processes/instances?model=deal-won-call&status=running",
        w.server.url
    ));
    assert_eq!(b.find_all("tr.instance").len(), 1);
    every_input_is_labelled(&b);
    b.goto(&format!(
        "{}/web/processes/instances?status=failed",
        w.server.url
    ));
    assert!(
        b.try_find("#instances-error").is_some(),
        "an unknown status is refused"
    );

    // The card: model, version, steps taken and who moved them.
    b.goto(&format!("{}/web/processes/instances", w.server.url));
    b.click(&b.find(&format!("{row} a")));
    b.wait_for("the card", WAIT, |b| {
        b.try_find("#instance-facts").is_some()
    });
    assert!(b.text(&b.find("h1")).contains("Call after a won deal"));
    assert_eq!(b.text(&b.find("#instance-status")), "running");
    assert_eq!(b.text(&b.find("#instance-current")), "Send the offer");
    assert!(
        b.text(&b.find("#instance-model"))
            .contains("deal-won-call (version 1)")
    );
    let steps = steps_on_card(&b);
    assert_eq!(
        steps,
        [
            ("call".to_owned(), "task".to_owned(), "ana".to_owned()),
            ("offer".to_owned(), String::new(), String::new()),
        ]
    );
    // Mia may suspend and stop: suspend, then resume, from the buttons.
    assert!(b.try_find("#control-stop").is_some());
    assert!(b.try_find("#control-resume").is_none(), "it runs");
    b.click(&b.find("#control-suspend"));
    b.wait_for("suspended", WAIT, |b| {
        b.text_of("#instance-status").as_deref() == Some("suspended")
    });
    assert!(b.try_find("#control-notice").is_some());
    assert!(b.try_find("#control-suspend").is_none());
    let held = b.text_of("#instance-held").unwrap_or_default();
    assert!(held.contains("suspended"), "why its tasks wait: {held}");
    b.click(&b.find("#control-resume"));
    b.wait_for("running again", WAIT, |b| {
        b.text_of("#instance-status").as_deref() == Some("running")
    });
    assert!(b.text(&b.find("#control-log")).contains("suspend by mia"));
    shot(&b, "process-card");
    let card_path = b.url().replace(&w.server.url, "");
    let card_path = card_path.split('?').next().unwrap_or_default().to_owned();
    sign_out(&b);

    // Ana (a rep: no suspend or stop right) sees the card without buttons,
    // and the server refuses her hand-made Stop.
    sign_in(&b, &w.server, "ana");
    b.goto(&format!("{}{card_path}", w.server.url));
    b.wait_for("the card", WAIT, |b| {
        b.try_find("#instance-facts").is_some()
    });
    assert!(b.try_find("#control-stop").is_none(), "no Stop for a rep");
    assert!(b.try_find("#controls").is_none(), "no control at all");
    let forms = Forms::of(&b, &rt, &w.server.url);
    let csrf = csrf_of_page(&b);
    let stop = forms.post(
        &format!("{card_path}/control"),
        &[("csrf", &csrf), ("action", "stop")],
        Some(&w.server.url),
    );
    assert_eq!(stop.status, 403, "{}", stop.body);
    assert!(
        stop.body.contains("may not stop"),
        "the server's message: {}",
        stop.body
    );
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["status"], "running", "{}", card.text);
    // An action that is not a control: refused too.
    let odd = forms.post(
        &format!("{card_path}/control"),
        &[("csrf", &csrf), ("action", "explode")],
        Some(&w.server.url),
    );
    assert_eq!(odd.status, 400, "{}", odd.body);
    sign_out(&b);

    // A failed instance: the manager starts the model that breaks a rule.
    let deal2 = ana.post(
        "/v1/records/deal",
        json!({"fields": {"name": "Trucks", "account": account, "stage": "proposal"}}),
    );
    let deal2 = id_of(&deal2);
    let started = mia.post(
        "/v1/processes/instances",
        json!({"model": "give-up", "record": deal2}),
    );
    let monitor = mia.get("/v1/processes/monitor").json;
    let failed: Vec<Value> = monitor["failed"].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), 1, "{} / {:?}", started.text, failed);
    let give_up = monitor["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["key"] == "give-up"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        give_up["running"], 0,
        "a failed instance is not running: {monitor}"
    );
    let failed_id = failed[0]["id"].as_str().expect("id").to_owned();

    // The monitor: the failed instance with its step and reason, the
    // counts, and the drawing with the step names and how many are where.
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/processes/monitor", w.server.url));
    let failed_row = format!("tr.failed-instance[data-instance='{failed_id}']");
    let step = b.text(&b.find(&format!("{failed_row} td.step")));
    assert_eq!(step, "Set the stage to lost");
    let reason = b.text(&b.find(&format!("{failed_row} td.reason")));
    assert!(reason.contains("reason"), "why it failed: {reason}");
    assert_eq!(b.text(&b.find("#failed-count")), "1");
    let counts = b.text(&b.find("[id='counts-deal-won-call-1']"));
    assert!(counts.contains("Call after a won deal"), "{counts}");
    assert_eq!(content(&b, "[id='counts-deal-won-call-1'] td.running"), "1");
    assert_eq!(content(&b, "[id='counts-give-up-1'] td.failed"), "1");
    // A failed instance is not counted as running as well.
    assert_eq!(content(&b, "[id='counts-give-up-1'] td.running"), "0");
    let offer = content(&b, "g.step[data-step='offer']");
    assert!(
        offer.contains("Send the offer") && offer.contains("1 here"),
        "{offer}"
    );
    let call = content(&b, "g.step[data-step='call']");
    assert!(
        call.contains("Call the customer") && call.contains("0 here"),
        "{call}"
    );
    assert!(
        content(&b, "g.step[data-step='done']").contains("Followed up"),
        "every step is drawn"
    );
    let arrows = b
        .execute(
            "return document.querySelectorAll('.process-graph polyline').length;",
            vec![],
        )
        .as_u64()
        .unwrap_or(0);
    assert!(arrows >= 3, "arrows between the steps: {arrows}");
    shot(&b, "process-monitor");
}

#[test]
fn a_process_is_started_from_a_deal_card_its_parameter_set_and_an_admin_migrates_it() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    for name in ["Call by hand", "Call by hand (v2)"] {
        let model = parse_model(ModelFormat::Toml, &manual_call(name)).expect("model");
        publish(&w.server.state, model, "admin").expect("publish");
    }
    let (_, deal) = anas_deal_in_proposal(&rt, &w.server, "Ruiz e Hijos", "Forklifts");
    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    // From the deal's card to the start form, with the deal filled in.
    b.goto(&format!("{}/web/records/deal/{deal}", w.server.url));
    b.click(&b.find("#start-process-link"));
    b.wait_for("the start form", WAIT, |b| {
        b.try_find("#start-record").is_some()
    });
    assert_eq!(b.value_of("#start-record").as_deref(), Some(deal.as_str()));
    every_input_is_labelled(&b);
    b.click(&b.find("#start-model option[value='manual-call']"));
    b.click(&b.find("#start-process"));
    b.wait_for("the new instance's card", WAIT, |b| {
        b.try_find("#instance-facts").is_some()
    });
    assert!(
        b.text(&b.find("#instance-model"))
            .contains("manual-call (version 2)")
    );
    assert_eq!(b.text(&b.find("#instance-current")), "Call the customer");
    // A manager changes a parameter; she may not migrate.
    assert!(b.try_find("#migrate").is_none(), "managers do not migrate");
    b.type_into(&b.find("#parameter-name"), "priority");
    b.type_into(&b.find("#parameter-value"), "high");
    b.click(&b.find("#control-set_parameter"));
    b.wait_for("the parameter", WAIT, |b| {
        b.text_of("#parameters")
            .is_some_and(|t| t.contains("priority") && t.contains("high"))
    });
    assert!(b.try_find("#control-notice").is_some());
    let card_path = b.url().replace(&w.server.url, "");
    let card_path = card_path.split('?').next().unwrap_or_default().to_owned();
    // A refused start keeps what was typed and says why.
    b.goto(&format!("{}/web/processes", w.server.url));
    b.execute(
        "document.querySelector('#start-record').value = 'deal:nonsense';",
        vec![],
    );
    b.click(&b.find("#start-process"));
    b.wait_for("the refusal", WAIT, |b| {
        b.try_find("#start-error").is_some()
    });
    assert_eq!(
        b.value_of("#start-record").as_deref(),
        Some("deal:nonsense")
    );
    sign_out(&b);

    // The administrator moves it back to version 1 from its card.
    sign_in(&b, &w.server, "admin");
    b.goto(&format!("{}{card_path}", w.server.url));
    b.wait_for("the card", WAIT, |b| b.try_find("#migrate").is_some());
    b.click(&b.find("#migrate-version option[value='1']"));
    b.click(&b.find("#control-migrate"));
    b.wait_for("version 1", WAIT, |b| {
        b.text_of("#instance-model")
            .is_some_and(|t| t.contains("(version 1)"))
    });
    assert!(b.text(&b.find("#control-log")).contains("to version 1"));
    let admin = ApiClient::signed_in(&rt, &w.server.url, "admin");
    let id = card_path.rsplit('/').next().unwrap_or_default();
    let card = admin.get(&format!("/v1/processes/instances/{id}"));
    assert_eq!(card.json["version"], 1, "{}", card.text);
    assert_eq!(card.json["parameters"]["priority"], "high", "{}", card.text);
}

/// A call whose outcome decides what follows: an interested customer gets
/// a meeting with the manager.
const CALL_AND_DECIDE: &str = r#"
key = "call-and-decide"
name = "Call a new account and decide"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "Call {name}"
due = "PT2H"
outcome = "choice:interested,not_interested,call_back"
next = "decide"

[[steps]]
id = "decide"
kind = "gateway"
branches = [{ condition = 'outcome.call == "interested"', next = "meet" }]
default = "done"

[[steps]]
id = "meet"
kind = "task"
assignee = "owner_manager"
subject = "Meet {name}"
due = "P7D"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

#[test]
fn the_calendar_offers_a_tasks_outcome_choices_and_the_choice_decides_the_branch() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    let model = parse_model(ModelFormat::Toml, CALL_AND_DECIDE).expect("model");
    publish(&w.server.state, model, "admin").expect("publish");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let made = ana.post(
        "/v1/records/account",
        json!({"fields": {"name": "Óptica Sol", "territory": "madrid"}}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    eventually("the process to start", || {
        !instances_of(&mia, "call-and-decide").is_empty()
    });
    let instance = instances_of(&mia, "call-and-decide")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b = browser(&rt);
    sign_in(&b, &w.server, "ana");
    b.goto(&format!("{}/web/calendar?week=2027-W01", w.server.url));
    let select = "li.activity select[name='outcome']";
    b.wait_for("the call with its choices", WAIT, |b| {
        b.try_find(select).is_some()
    });
    let options: Vec<String> = serde_json::from_value(b.execute(
        "return [...document.querySelectorAll(arguments[0] + ' option')].map(o => o.value);",
        vec![json!(select)],
    ))
    .expect("options");
    assert_eq!(options, ["interested", "not_interested", "call_back"]);
    every_input_is_labelled(&b);
    // A hand-made outcome outside the choices is refused by the server.
    let action = b
        .execute(
            "return document.querySelector('li.activity form.complete').getAttribute('action');",
            vec![],
        )
        .as_str()
        .expect("action")
        .to_owned();
    let forms = Forms::of(&b, &rt, &w.server.url);
    let csrf = csrf_of_page(&b);
    let odd = forms.post(
        &action,
        &[
            ("csrf", &csrf),
            ("outcome", "maybe"),
            ("back", "/web/calendar"),
        ],
        Some(&w.server.url),
    );
    assert!(odd.status >= 400, "{} {}", odd.status, odd.body);
    assert!(
        odd.body.contains("interested"),
        "the form is named: {}",
        odd.body
    );
    // The real choice: interested → a meeting for the manager.
    b.click(&b.find(&format!("{select} option[value='interested']")));
    b.click(&b.find("li.activity form.complete button"));
    eventually("the instance at the meeting", || {
        mia.get(&format!("/v1/processes/instances/{instance}")).json["current"] == "meet"
    });
    // The process card shows the outcome the call was left with.
    b.goto(&format!(
        "{}/web/processes/instances/{}",
        w.server.url,
        instance.trim_start_matches("process_instance:")
    ));
    let outcome = b
        .text_of("tr.step[data-step='call'] td.outcome")
        .unwrap_or_default();
    assert_eq!(outcome, "interested");
    // Eight days later nobody has met the customer: the monitor lists the
    // missed follow-up, with its model, step and assignee.
    w.server_clock
        .set(fieldwork_tests::clocked::at("2027-01-12T09:00:00Z"));
    sign_out(&b);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/processes/monitor", w.server.url));
    assert_eq!(b.text(&b.find("#missed-count")), "1");
    let row = b.text(&b.find("#missed tr.missed"));
    assert!(
        row.contains("call-and-decide v1") && row.contains("mia"),
        "{row}"
    );
    assert!(
        row.contains("2027-01-11"),
        "due a week after the call: {row}"
    );
}

/// Started by hand on a deal: wait three days for the customer's reply.
const AWAIT_REPLY: &str = r#"
key = "await-reply"
name = "Wait for the reply"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "reply"
name = "Wait for the reply"
kind = "wait"
events = [{ message = "reply", next = "done" }, { after = "P3D", next = "done" }]

[[steps]]
id = "done"
name = "Done"
kind = "end"
"#;

#[test]
fn a_rep_reports_the_customers_reply_from_the_process_card() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    let model = parse_model(ModelFormat::Toml, AWAIT_REPLY).expect("model");
    publish(&w.server.state, model, "admin").expect("publish");
    let (_, deal) = anas_deal_in_proposal(&rt, &w.server, "Nube SL", "Vans");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let started = ana.post(
        "/v1/processes/instances",
        json!({"model": "await-reply", "record": deal}),
    );
    assert!(started.status < 300, "{}", started.text);
    let id = started.json["id"].as_str().expect("id").to_owned();
    let b = browser(&rt);
    sign_in(&b, &w.server, "ana");
    b.goto(&format!("{}/web/processes/instances/{id}", w.server.url));
    b.wait_for("the card", WAIT, |b| {
        b.try_find("#instance-awaits").is_some()
    });
    assert_eq!(b.text(&b.find("#instance-awaits")), "reply");
    b.click(&b.find("#message-reply"));
    b.wait_for("the instance done", WAIT, |b| {
        b.text_of("#instance-status")
            .is_some_and(|t| t.contains("completed"))
    });
    assert!(b.try_find("#control-notice").is_some());
    assert!(
        b.try_find("#message-reply").is_none(),
        "nothing waits any more"
    );
    assert!(
        b.text(&b.find("#control-log")).contains("ana"),
        "the message is in the log, by her"
    );
    let card = ana.get(&format!("/v1/processes/instances/{id}"));
    assert_eq!(card.json["steps"][0]["via"], "message", "{}", card.text);
}

/// Two checks at once, then a model it runs, on a deal started by hand.
const CHECK_THEN_CALL: &[&str] = &[
    r#"
key = "credit-check"
name = "Check the credit"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "check"
name = "Check the credit"
kind = "task"
assignee = "owner"
subject = "Check the credit"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#,
    r#"
key = "prepare"
name = "Prepare the offer"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "both"
name = "Both at once"
kind = "parallel"
paths = ["price", "stock"]
next = "credit"

[[steps]]
id = "price"
name = "Price the offer"
kind = "task"
assignee = "owner"
subject = "Price the offer"
next = "credit"

[[steps]]
id = "stock"
name = "Check the stock"
kind = "task"
assignee = "owner"
subject = "Check the stock"
next = "credit"

[[steps]]
id = "credit"
name = "Run the credit check"
kind = "call"
process = "credit-check"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#,
];

#[test]
fn the_process_card_shows_open_paths_and_links_the_instance_a_step_runs() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    for toml in CHECK_THEN_CALL {
        let model = parse_model(ModelFormat::Toml, toml).expect("model");
        publish(&w.server.state, model, "admin").expect("publish");
    }
    let (_, deal) = anas_deal_in_proposal(&rt, &w.server, "Nube SL", "Vans");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let started = ana.post(
        "/v1/processes/instances",
        json!({"model": "prepare", "record": deal}),
    );
    assert!(started.status < 300, "{}", started.text);
    let id = started.json["id"].as_str().expect("id").to_owned();
    let b = browser(&rt);
    sign_in(&b, &w.server, "ana");
    let card = format!("{}/web/processes/instances/{id}", w.server.url);
    b.goto(&card);
    b.wait_for("the card", WAIT, |b| {
        b.try_find("#instance-open-paths").is_some()
    });
    assert_eq!(
        b.text(&b.find("#instance-open-paths")),
        "Price the offer, Check the stock"
    );
    let paths: Vec<String> = b
        .find_all("#steps .path")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert_eq!(paths, ["path 1", "path 2"]);

    // Both tasks done through the API: the call step starts the check.
    let steps = ana.get(&format!("/v1/processes/instances/{id}"));
    for v in steps.json["steps"].as_array().expect("steps") {
        if let Some(task) = v["activity"]["id"].as_str() {
            let done = ana.post(&format!("/v1/tasks/{task}/complete"), json!({}));
            assert!(done.status < 300, "{}", done.text);
        }
    }
    b.goto(&card);
    b.wait_for("the called instance", WAIT, |b| {
        b.try_find("a.called").is_some()
    });
    b.click(&b.find("a.called"));
    b.wait_for("its card", WAIT, |b| {
        b.text_of("#instance-model")
            .is_some_and(|t| t.contains("credit-check"))
    });
    every_input_is_labelled(&b);
}
