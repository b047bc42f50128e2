//! `bench sms --provider kannel|sim`: notices from due to delivered through a real provider path — HTTP
//! hand-overs, delivery reports back through our callback endpoint — in a scratch database. With Kannel, the
//! same run measures Kannel's own accept rate under a plain sendsms load of equal concurrency (DLRs to a sink)
//! and prints the ratio. `--rate N --seconds S` instead measures how closely a configured limit is kept.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{dispatch::seed_notifications, intake, seed};
use crate::{
    clock::ManualClock,
    config::{KannelSettings, Secret, Settings, SmsRuSettings},
    dispatch::Dispatcher,
    gateway_sim::{self, SimConfig},
    http::{AppState, router},
    kannel_rig::KannelRig,
};

const NOW: &str = "2026-12-01T05:00:00Z";
const TOKEN: &str = "bench-callback-token-0123456789";
const TEXT: &str = "ОКК Тест: долг 4 500,00 ₽ по ЛС ***0001. Оплатите до 15.12.";

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct SmsBench<'a> {
    pub provider: &'a str,
    pub notices: usize,
    pub concurrency: usize,
    /// Some((per second, seconds)): measure the rate limit instead of throughput.
    pub rate: Option<(u32, u64)>,
}

/// Runs the benchmark.
///
/// # Errors
/// Infrastructure failures.
pub async fn run(b: SmsBench<'_>, base: Settings) -> anyhow::Result<()> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (settings, admin, pool) = intake::scratch(&base, &tag).await?;
    let result = measure(b, settings, &pool).await;
    pool.close().await;
    intake::cleanup(&base, &admin, &tag).await;
    result
}

async fn listen() -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

async fn measure(b: SmsBench<'_>, mut settings: Settings, pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let n = b.rate.map_or(b.notices, |(r, s)| (u64::from(r) * (s + 30)) as usize);
    anyhow::ensure!(
        b.provider != "kannel" || KannelRig::installed(),
        "Kannel is not installed: run scripts/test once (it installs the kannel and kannel-extras packages)"
    );
    println!("seeding {n} due notices (not measured)…");
    seed::debtors(pool, n, false).await?;
    let campaign = seed::campaign(pool, NOW).await?;
    seed_notifications(pool, campaign, n).await?;
    let (callbacks, our_url) = listen().await?;
    let mut rig = None;
    let mut sim_url = None;
    // A tenth of a second of burst: the bucket absorbs a late wake-up instead of losing the token.
    let (rate, burst) = b.rate.map_or((1_000_000, 10_000), |(r, _)| (r, (r / 10).max(1)));
    if b.provider == "kannel" {
        let r = KannelRig::start(&std::env::temp_dir(), false).await;
        settings.dispatch.sms_provider = "kannel".into();
        settings.gateways.kannel = Some(kannel(&r.sendsms_url, &our_url, b.concurrency, rate, burst));
        rig = Some(r);
    } else {
        let (l, url) = listen().await?;
        let mut config = SimConfig::default_instant();
        config.smsru_callback = Some(format!("{our_url}/callbacks/smsru/{TOKEN}"));
        // Handsets report after a while; an instant report would always overtake the record of its accept.
        config.report_delay_ms = 1000;
        tokio::spawn(gateway_sim::serve(l, config));
        settings.dispatch.sms_provider = "smsru".into();
        settings.gateways.smsru = Some(smsru(&url, b.concurrency, rate, burst));
        sim_url = Some(url);
    }
    let settings = Arc::new(settings);
    let app = router(AppState::new(pool.clone(), settings.clone()));
    tokio::spawn(async move { axum::serve(callbacks, app).await });
    let now: DateTime<Utc> = NOW.parse()?;
    let dispatcher = Dispatcher::new(pool.clone(), settings.clone(), Arc::new(ManualClock::at(now))).await?;
    let token = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(dispatcher.run(token.clone()));
    if let (Some((per_second, seconds)), Some(url)) = (b.rate, &sim_url) {
        let result = rate_check(url, per_second, seconds).await;
        token.cancel();
        task.await?;
        return result;
    }
    let (handed, secs) = wait_delivered(pool, n, started).await?;
    token.cancel();
    task.await?;
    let (sends, ours) = (n as f64 / handed, n as f64 / secs);
    println!(
        "bench sms --provider {}: {n} notices due → delivered (hand-over over HTTP, delivery reports through our \
         callback endpoint), {} in flight",
        b.provider, b.concurrency
    );
    println!(
        "  sends: all {n} handed over and their accepts recorded in {handed:.2} s = {sends:.0}/s, with the delivery \
         reports processed alongside"
    );
    println!("  end to end: all delivered in {secs:.2} s = {ours:.0} notices/s");
    if let Some(r) = &rig {
        let (accept, complete) = plain_load(&r.sendsms_url, n, b.concurrency).await?;
        println!(
            "  Kannel alone, plain sendsms load of {n} with {} in flight, dlr-mask 31, DLRs to a sink answering at once:",
            b.concurrency
        );
        println!(
            "    accept rate {accept:.0}/s: our sends = {:.1} % of it (target ≥ 90 %)",
            100.0 * sends / accept
        );
        println!(
            "    until both DLRs of every message reached the sink {complete:.0}/s: our end to end = {:.1} % of it",
            100.0 * ours / complete
        );
    } else {
        println!("  (target on the simulator: ≥ 10,000 notices/s end to end)");
    }
    Ok(())
}

/// Waits until `n` notices are delivered; returns the seconds from `started` until every one had been handed
/// over and its accept recorded (none left `planned` or `sending`), and until all were delivered.
async fn wait_delivered(pool: &sqlx::PgPool, n: usize, started: Instant) -> anyhow::Result<(f64, f64)> {
    let target = i64::try_from(n).unwrap_or(i64::MAX);
    let mut accepted = None;
    loop {
        let (waiting, delivered): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where state in ('planned', 'sending')),
                    count(*) filter (where state = 'delivered')
             from notification",
        )
        .fetch_one(pool)
        .await?;
        if waiting == 0 && accepted.is_none() {
            accepted = Some(started.elapsed().as_secs_f64());
        }
        if delivered >= target {
            let done = started.elapsed().as_secs_f64();
            return Ok((accepted.unwrap_or(done), done));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts hand-overs the simulator received over `seconds`, from the first one on.
async fn rate_check(sim: &str, per_second: u32, seconds: u64) -> anyhow::Result<()> {
    let received = || async {
        let v: serde_json::Value = reqwest::get(format!("{sim}/stats")).await?.json().await?;
        Ok::<u64, anyhow::Error>(v["received"].as_u64().unwrap_or(0))
    };
    while received().await? == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (c0, t0) = (received().await?, Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (c1, secs) = (received().await?, t0.elapsed().as_secs_f64());
    let rate = (c1 - c0) as f64 / secs;
    let off = 100.0 * (rate - f64::from(per_second)) / f64::from(per_second);
    println!(
        "bench sms rate limit: configured {per_second}/s, measured {rate:.2}/s over {secs:.1} s ({off:+.2} %; target within ±2 %)"
    );
    Ok(())
}

/// Kannel alone: `n` sendsms requests, `concurrency` at a time, DLRs to a sink that answers 200 at once.
/// Returns the accept rate (requests answered) and the complete rate (until both DLRs of every message came).
async fn plain_load(sendsms: &str, n: usize, concurrency: usize) -> anyhow::Result<(f64, f64)> {
    let (sink, sink_url) = listen().await?;
    let dlrs = Arc::new(AtomicU64::new(0));
    let counted = dlrs.clone();
    let app = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        async { "OK" }
    });
    tokio::spawn(async move { axum::serve(sink, app).await });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, next, url, dlr) = (
                http.clone(),
                next.clone(),
                sendsms.to_owned(),
                format!("{sink_url}/dlr?s=%d"),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n as u64 {
                        return Ok::<_, reqwest::Error>(());
                    }
                    let to = format!("79{i:09}");
                    let q = [
                        ("username", "notify"),
                        ("password", "notify-secret"),
                        ("from", "DEBTNOTIFY"),
                        ("to", to.as_str()),
                        ("text", TEXT),
                        ("coding", "2"),
                        ("charset", "UTF-8"),
                        ("dlr-mask", "31"),
                        ("dlr-url", dlr.as_str()),
                    ];
                    http.get(&url).query(&q).send().await?.text().await?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let accepted = started.elapsed().as_secs_f64();
    while dlrs.load(Ordering::Relaxed) < 2 * n as u64 && started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((n as f64 / accepted, n as f64 / started.elapsed().as_secs_f64()))
}

fn kannel(sendsms: &str, ours: &str, concurrency: usize, rate: u32, burst: u32) -> KannelSettings {
    KannelSettings {
        sendsms_url: sendsms.to_owned(),
        username: "notify".into(),
        password: Secret::new("notify-secret"),
        sender: "DEBTNOTIFY".into(),
        registered_senders: vec!["DEBTNOTIFY".into()],
        smsc: None,
        callback_base: ours.to_owned(),
        callback_token: Secret::new(TOKEN),
        concurrency,
        rate_per_second: rate,
        burst,
        timeout_secs: 30,
        price_per_segment: rust_decimal::Decimal::ZERO,
        priority: 1,
    }
}

fn smsru(base: &str, concurrency: usize, rate: u32, burst: u32) -> SmsRuSettings {
    SmsRuSettings {
        base_url: base.to_owned(),
        api_id: Secret::new("sim-api-id"),
        sender: "DEBTNOTIFY".into(),
        registered_senders: vec!["DEBTNOTIFY".into()],
        callback_token: Secret::new(TOKEN),
        concurrency,
        rate_per_second: rate,
        burst,
        timeout_secs: 30,
        price_per_segment: rust_decimal::Decimal::ZERO,
        priority: 1,
    }
}
