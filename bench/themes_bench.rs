//! Themes benchmark: offline grouping of N problem posts (default 100,000) in memory, the time of
//! each part, the peak RSS of the process, and the agreement with the labels.
//!
//! Posts come from `harbor_testkit::problems` (32 problems in differently worded posts, spread over
//! 8 weeks), and each post also gets a few words from a Zipf-distributed vocabulary of 50,000
//! made-up words, so the vocabulary has the long tail of real text and the index is not tiny.
//!
//! With `--ndjson FILE` it writes the posts as submissions instead, for the end-to-end case
//! (`harbor load FILE --table submissions`, then `harbor themes`).
//!
//! Run: `cargo run -p harbor --example themes_bench -- --posts 100000` (the dev profile: our crates at
//! opt-level 1, dependencies at 3; `CARGO_PROFILE_DEV_OPT_LEVEL=3` in front builds ours at 3 too).
//! It prints a Markdown section for `bench/RESULTS.md`.

use std::time::Instant;

use harbor_ai::themes::eval::{adjusted_rand_index, purity};
use harbor_ai::themes::{ExistingTheme, ThemeOptions, ThemePost, group};
use harbor_testkit::problems::{generate, problem_count};

const END: f64 = 1_796_601_600.0;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process, MB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Made-up long-tail words: `k` drawn with probability ~ 1/k (a Zipf law) from 50,000.
fn tail_words(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = (x % 1_000_000) as f64 / 1_000_000.0;
        // Inverse CDF of a continuous 1/k law on [1, 50000].
        let k = (50_000f64).powf(u) as u64;
        // Letters only, so the tokenizer keeps them as words.
        let mut w = String::from("zq");
        let mut v = k;
        while v > 0 {
            w.push((b'a' + (v % 26) as u8) as char);
            v /= 26;
        }
        out.push(w);
    }
    out.join(" ")
}

fn main() {
    let n = arg("--posts", 100_000);
    let per = (n / problem_count()).max(1);
    let t0 = Instant::now();
    let set = generate(42, per, 40, 8, END);
    let posts: Vec<ThemePost> = set
        .iter()
        .enumerate()
        .map(|(i, p)| ThemePost {
            id: p.id.clone(),
            subreddit: p.subreddit.clone(),
            author: Some(p.author.clone()),
            created_utc: Some(p.created_utc),
            title: p.title.clone(),
            body: format!("{} {}", p.body, tail_words(i as u64 + 1, 8)),
            ..Default::default()
        })
        .collect();
    let gen_s = t0.elapsed().as_secs_f64();
    // `--ndjson FILE`: write the posts as submissions (for `harbor load` + `harbor themes`) and stop.
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args
        .iter()
        .position(|a| a == "--ndjson")
        .and_then(|i| args.get(i + 1))
    {
        let mut out = String::new();
        for p in &posts {
            out.push_str(
                &serde_json::json!({"id": p.id, "name": format!("t3_{}", p.id), "subreddit": p.subreddit,
                    "title": p.title, "selftext": p.body, "author": p.author, "created_utc": p.created_utc,
                    "score": 1, "num_comments": 0, "is_problem": true,
                    "permalink": format!("/r/{}/comments/{}/", p.subreddit, p.id)})
                .to_string(),
            );
            out.push('\n');
        }
        if let Err(e) = std::fs::write(path, out) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
        eprintln!("wrote {} posts to {path}", posts.len());
        return;
    }
    let rss_before = peak_rss_mb().unwrap_or(0.0);

    let g = group(&posts, &[], ThemeOptions::default());
    let rss_after = peak_rss_mb().unwrap_or(0.0);

    let theme_of: std::collections::HashMap<&str, usize> = g
        .themes
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.members.iter().map(move |m| (m.post_id.as_str(), i)))
        .collect();
    let total = set.len();
    let truth: Vec<usize> = set
        .iter()
        .enumerate()
        .map(|(i, p)| p.label.unwrap_or(total + i))
        .collect();
    let found: Vec<usize> = set
        .iter()
        .enumerate()
        .map(|(i, p)| theme_of.get(p.id.as_str()).copied().unwrap_or(total + i))
        .collect();
    let ari = adjusted_rand_index(&truth, &found);
    let pur = purity(&truth, &found);

    // An incremental run: the stored themes as seeds plus 1% new posts.
    let existing: Vec<ExistingTheme> = g
        .themes
        .iter()
        .map(|t| ExistingTheme {
            id: t.id.clone(),
            members: t.member_ids().iter().map(|s| s.to_string()).collect(),
            name: None,
        })
        .collect();
    let mut more = posts.clone();
    more.extend(
        generate(43, (per / 100).max(1), 0, 1, END + 7.0 * 86_400.0)
            .into_iter()
            .map(|p| ThemePost {
                id: p.id,
                subreddit: p.subreddit,
                author: Some(p.author),
                created_utc: Some(p.created_utc),
                title: p.title,
                body: p.body,
                ..Default::default()
            }),
    );
    let g2 = group(&more, &existing, ThemeOptions::default());
    let rss_end = peak_rss_mb().unwrap_or(0.0);

    println!("## Themes: offline grouping (issue 19)\n");
    println!(
        "Command: `cargo run -p harbor --example themes_bench -- --posts {n}` (in memory, 2 cores; posts \
         from `harbor_testkit::problems` plus 8 long-tail words each).\n"
    );
    println!("| case | posts | themes | unthemed | seconds | peak RSS MB | ARI | purity |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| first grouping | {} | {} | {} | {:.2} | {:.0} | {ari:.3} | {pur:.3} |",
        posts.len(),
        g.themes.len(),
        g.unthemed,
        g.seconds,
        rss_after
    );
    println!(
        "| + {} new posts, {} stored themes as seeds | {} | {} | {} | {:.2} | {:.0} | | |",
        more.len() - posts.len(),
        existing.len(),
        more.len(),
        g2.themes.len(),
        g2.unthemed,
        g2.seconds,
        rss_end
    );
    println!(
        "\nGenerating the posts took {gen_s:.2} s (peak RSS {rss_before:.0} MB before grouping, not counted)."
    );
}
