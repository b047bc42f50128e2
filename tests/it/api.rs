//! The HTTP API end to end: upload a file → published → consumed → report, with bearer auth.

use std::time::Duration;

use debtor_notify::app::Application;
use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{UTILITY, test_settings};

pub(crate) struct Api {
    settings: debtor_notify::config::Settings,
    base: String,
    client: reqwest::Client,
    token: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Api {
    pub(crate) async fn spawn(pool: &PgPool) -> Self {
        Self::spawn_with(test_settings(pool)).await
    }

    pub(crate) async fn spawn_with(settings: debtor_notify::config::Settings) -> Self {
        let app = Application::build(settings.clone()).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port().unwrap());
        let token = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(token.clone()));
        Self {
            settings,
            base,
            client: reqwest::Client::new(),
            token,
            handle,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth("test-token")
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Sends JSON (or nothing) with the token; returns the status and the JSON answer.
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path)).bearer_auth("test-token");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn stop(self) {
        self.token.cancel();
        self.handle.await.unwrap().unwrap();
        crate::helpers::delete_topology(&self.settings).await;
    }
}

async fn register_utility(api: &Api) {
    let r = api
        .client
        .post(api.url("/api/v1/utilities"))
        .bearer_auth("test-token")
        .json(&serde_json::json!({"id": UTILITY, "name": "ОКК Тест", "timezone": "Asia/Yekaterinburg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Uploads the sample 1C export (Windows-1251 CSV) as multipart; asserts 202 and returns the answer.
async fn upload_sample_export(api: &Api) -> Value {
    let bytes = std::fs::read("data/sample/debtors.cp1251.csv").unwrap();
    let form = multipart::Form::new()
        .text("utility", UTILITY)
        .text("as_of", "2026-11-01")
        .part("file", multipart::Part::bytes(bytes).file_name("debtors.cp1251.csv"));
    let r = api
        .client
        .post(api.url("/api/v1/batches"))
        .bearer_auth("test-token")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json().await.unwrap()
}

async fn poll_report(api: &Api, batch_id: &str) -> Value {
    for _ in 0..300 {
        let (status, body) = api.get(&format!("/api/v1/batches/{batch_id}")).await;
        if status == StatusCode::OK && body["status"] == "completed" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch {batch_id} not completed within 30 s");
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_upload_to_an_api_only_process_is_queued_for_an_intake_worker_that_starts_later(pool: PgPool) {
    // Nothing has declared the intake topology yet: the API's publisher declares it, so the batch is routed
    // to the queue instead of being refused (no exchange) or returned (no binding).
    let mut settings = test_settings(&pool);
    settings.serve.roles = vec![debtor_notify::config::Role::Api];
    let api = Api::spawn_with(settings.clone()).await;
    register_utility(&api).await;
    let accepted = upload_sample_export(&api).await;
    let batch_id = accepted["batch_id"].as_str().unwrap().to_owned();

    settings.serve.roles = vec![debtor_notify::config::Role::Api, debtor_notify::config::Role::Intake];
    let worker = Api::spawn_with(settings).await;
    let report = poll_report(&api, &batch_id).await;
    assert_eq!(
        (report["accepted"].as_i64(), report["rejected"].as_i64()),
        (Some(37), Some(3))
    );
    worker.stop().await;
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_uploaded_1c_export_is_consumed_and_reported_with_its_bad_rows(pool: PgPool) {
    let api = Api::spawn(&pool).await;
    register_utility(&api).await;
    let accepted = upload_sample_export(&api).await;
    assert_eq!(
        (accepted["rows_read"].as_u64(), accepted["rejected"].as_u64()),
        (Some(40), Some(3))
    );
    let batch_id = accepted["batch_id"].as_str().unwrap().to_owned();
    let report = poll_report(&api, &batch_id).await;
    assert_eq!(
        (
            report["received"].as_i64(),
            report["accepted"].as_i64(),
            report["rejected"].as_i64()
        ),
        (Some(40), Some(37), Some(3))
    );
    let first = &report["errors"][0];
    assert_eq!(
        (
            first["index"].as_i64(),
            first["source_row"].as_i64(),
            first["field"].as_str()
        ),
        (Some(6), Some(8), Some("phones"))
    );
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_json_batch_posted_to_the_api_is_stored_and_a_dry_run_publishes_nothing(pool: PgPool) {
    let api = Api::spawn(&pool).await;
    register_utility(&api).await;
    let doc = crate::helpers::batch_doc(
        uuid::Uuid::new_v4(),
        "2026-11-01",
        vec![crate::helpers::debtor("1", "10.00")],
    );

    let dry = api
        .client
        .post(api.url("/api/v1/batches?dry_run=true"))
        .bearer_auth("test-token")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(dry.status(), StatusCode::OK);
    assert_eq!(
        api.get(&format!("/api/v1/batches/{}", doc["batch_id"].as_str().unwrap()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let r = api
        .client
        .post(api.url("/api/v1/batches"))
        .bearer_auth("test-token")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let report = poll_report(&api, doc["batch_id"].as_str().unwrap()).await;
    assert_eq!(report["accepted"].as_i64(), Some(1));
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_api_refuses_calls_without_the_token_but_health_stays_open(pool: PgPool) {
    let api = Api::spawn(&pool).await;

    let no_token = api.client.get(api.url("/api/v1/utilities")).send().await.unwrap();
    let wrong = api
        .client
        .get(api.url("/api/v1/utilities"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let live = api.client.get(api.url("/health/live")).send().await.unwrap();
    let ready = api.client.get(api.url("/health/ready")).send().await.unwrap();

    assert_eq!(
        (no_token.status(), wrong.status()),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!((live.status(), ready.status()), (StatusCode::OK, StatusCode::OK));
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn uploads_for_unknown_utilities_and_bad_utility_fields_are_refused(pool: PgPool) {
    let api = Api::spawn(&pool).await;
    let csv = "ЛС;Долг\n1;2\n";
    let r = api
        .client
        .post(api.url("/api/v1/batches?utility=nope"))
        .bearer_auth("test-token")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let bad_zone = serde_json::json!({"id": "okk-x", "name": "X", "timezone": "Mars/Base"});
    let r = api
        .client
        .post(api.url("/api/v1/utilities"))
        .bearer_auth("test-token")
        .json(&bad_zone)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    register_utility(&api).await;
    let again = serde_json::json!({"id": UTILITY, "name": "X", "timezone": "Asia/Yekaterinburg"});
    let r = api
        .client
        .post(api.url("/api/v1/utilities"))
        .bearer_auth("test-token")
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn templates_are_created_edited_and_previewed_over_the_api(pool: PgPool) {
    use reqwest::Method;
    let api = Api::spawn(&pool).await;
    let body = "{{ creditor.name }}: ЛС {{ account_masked }}, долг {{ debt.total | money }}.";
    let new =
        |name: &str, kind: &str, body: &str| Some(json!({"name": name, "kind": kind, "channel": "sms", "body": body}));

    let created = api
        .call(Method::POST, "/api/v1/templates", new("my-sms", "soft_reminder", body))
        .await;
    let refused = api
        .call(
            Method::POST,
            "/api/v1/templates",
            new("ad-sms", "custom", "Платите вовремя!"),
        )
        .await;
    let edited = api
        .call(
            Method::PUT,
            "/api/v1/templates/my-sms",
            Some(json!({"body": format!("{body} Спасибо!")})),
        )
        .await;
    let (_, p) = api
        .call(
            Method::POST,
            "/api/v1/templates/my-sms/preview",
            Some(json!({"version": 1})),
        )
        .await;

    assert_eq!(created.0, StatusCode::CREATED);
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.1["problems"][0].as_str().unwrap().contains("advertising"));
    assert_eq!((edited.0, &edited.1["version"]), (StatusCode::CREATED, &json!(2)));
    assert_eq!(p["text"], "ОКК Октябрьское: ЛС ***0002, долг 3\u{a0}673,54\u{a0}₽.");
    let size = (p["encoding"].as_str(), p["segments"].as_u64(), p["too_long"].as_bool());
    assert_eq!(size, (Some("ucs2"), Some(1), Some(false)));
    assert_eq!(p["cost"], "2.50");
    api.stop().await;
}

/// Uploads debtors as a JSON batch and waits until they are stored.
async fn store_debtors(api: &Api, debtors: Vec<Value>) {
    let doc = crate::helpers::batch_doc(uuid::Uuid::new_v4(), "2026-11-01", debtors);
    let (status, _) = api
        .call(reqwest::Method::POST, "/api/v1/batches", Some(doc.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    poll_report(api, doc["batch_id"].as_str().unwrap()).await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_stored_debtor_is_previewed_by_account_after_an_upload(pool: PgPool) {
    let api = Api::spawn(&pool).await;
    register_utility(&api).await;
    store_debtors(&api, vec![crate::helpers::debtor("8641000002", "3 673,54")]).await;

    let path = "/api/v1/templates/pretrial-voice/preview";
    let (_, p) = api
        .call(reqwest::Method::POST, path, Some(json!({"account": "8641000002"})))
        .await;

    let text = p["text"].as_str().unwrap();
    assert!(
        text.contains("три тысячи шестьсот семьдесят три рубля пятьдесят четыре копейки"),
        "{text}"
    );
    assert!(text.contains("просрочка два месяца"), "{text}");
    assert!(text.contains("Ирина Ивановна"), "{text}");
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_template_check_over_the_api_reports_lint_and_the_worst_case(pool: PgPool) {
    let api = Api::spawn(&pool).await;
    register_utility(&api).await;
    let mut long = crate::helpers::debtor("1", "1 234 567,89");
    long["services"] = json!([
        {"service": "холодное водоснабжение", "debt": "1"}, {"service": "горячее водоснабжение", "debt": "1"},
        {"service": "водоотведение", "debt": "1"}, {"service": "электроснабжение", "debt": "1"},
        {"service": "обращение с твёрдыми коммунальными отходами", "debt": "1"}
    ]);
    store_debtors(&api, vec![crate::helpers::debtor("2", "5"), long]).await;
    let path = "/api/v1/templates/restriction-warning-sms/check";

    let (_, without_phone) = api.call(reqwest::Method::POST, path, None).await;
    let contacts = debtor_notify::storage::utility::UtilityContacts {
        contact_phone: Some("8 (3467) 33-00-11".into()),
        ..Default::default()
    };
    debtor_notify::storage::utility::set_utility_contacts(&pool, UTILITY, &contacts)
        .await
        .unwrap();
    let (_, r) = api.call(reqwest::Method::POST, path, None).await;

    assert_eq!(
        without_phone["render_failures"].as_u64(),
        Some(2),
        "no contact phone on file: {without_phone}"
    );
    assert!(
        without_phone["first_failures"][0].as_str().unwrap().contains("missing"),
        "{without_phone}"
    );
    assert_eq!(r["lint_problems"], json!([]));
    assert_eq!(
        (r["debtors"].as_u64(), r["render_failures"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        r["too_long"].as_u64(),
        Some(1),
        "five long service names do not fit 4 segments: {r}"
    );
    assert_eq!(r["longest_account"], "***1");
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_opt_out_is_added_listed_masked_lifted_and_kept_as_history(pool: PgPool) {
    use debtor_notify::storage::opt_out::is_opted_out;
    use reqwest::Method;
    let api = Api::spawn(&pool).await;
    register_utility(&api).await;
    let by_phone =
        json!({"utility": UTILITY, "phone": "8 (912) 345-67-89", "reason": "отказ абонента", "by": "оператор Иванова"});
    let by_account = json!({"utility": UTILITY, "account": "8641000002", "reason": "представитель по 230-ФЗ ст.8"});

    let added = api.call(Method::POST, "/api/v1/opt-outs", Some(by_phone.clone())).await;
    let again = api.call(Method::POST, "/api/v1/opt-outs", Some(by_phone.clone())).await;
    api.call(Method::POST, "/api/v1/opt-outs", Some(by_account)).await;
    let (_, masked) = api
        .call(Method::GET, &format!("/api/v1/opt-outs?utility={UTILITY}"), None)
        .await;
    let blocked = is_opted_out(&pool, UTILITY, "1", "+79123456789").await.unwrap();
    let lifted = api.call(Method::DELETE, "/api/v1/opt-outs", Some(by_phone)).await;
    let (_, history) = api
        .call(Method::GET, "/api/v1/opt-outs?all=true&show_phones=true", None)
        .await;

    assert_eq!(
        (added.0, again.0, lifted.0),
        (StatusCode::CREATED, StatusCode::CONFLICT, StatusCode::NO_CONTENT)
    );
    assert_eq!(masked.as_array().unwrap().len(), 2);
    assert_eq!(masked[1]["e164"], "+*******6789", "numbers are masked unless asked for");
    assert!(
        blocked,
        "a number on the list is opted out for every debtor of the utility"
    );
    assert!(!is_opted_out(&pool, UTILITY, "1", "+79123456789").await.unwrap());
    assert!(
        is_opted_out(&pool, UTILITY, "8641000002", "+79990000000")
            .await
            .unwrap(),
        "by account, any number"
    );
    let phone_entry = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["e164"] == "+79123456789")
        .unwrap();
    assert_eq!(
        (phone_entry["added_by"].as_str(), phone_entry["removed_by"].as_str()),
        (Some("оператор Иванова"), Some("оператор Иванова"))
    );
    api.stop().await;
}
