//! The HTML report, as a browser shows it: the binary writes it for the seed
//! fixtures, headless Chromium renders it, and the screenshot must show the
//! table and the leak's charts.

mod common;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::leakhunt;

/// Where Debian's `chromium` package puts the browser (.ci/run installs it).
const CHROMIUM: &str = "/usr/bin/chromium";
/// The colour of a growing signal's line (`GROWING_COLOUR` in src/report/html.rs).
const GROWING: [u8; 3] = [0xd6, 0x27, 0x28];

#[test]
fn report_renders_table_and_charts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let report = write_report(dir.path());

    let html = std::fs::read_to_string(&report).unwrap();
    for fragment in [
        "<p class=\"summary bad\">5 passed, 1 leaked in ",
        "<a href=\"#test-0\">leaky/test_seed_article.py::test_people_kept_in_global_list</a></td>\
         <td data-sort=\"0\"><span class=\"verdict leaked\">LEAKED</span></td>",
        "<td class=\"node\">clean/test_seed_article_clean.py::test_reference_cycle_collected</td>\
         <td data-sort=\"8\"><span class=\"verdict passed\">PASSED</span></td>",
        "<svg class=\"chart growing\" data-signal=\"objects\"",
        ">objects +10000 objects/run</text>",
    ] {
        assert!(html.contains(fragment), "missing {fragment:?} in\n{html}");
    }
    assert_eq!(html.matches("<svg ").count(), 6, "one chart per signal");
    assert!(!html.contains("http://") && !html.contains("https://"));

    let png = dir.path().join("screenshot.png");
    chromium(
        &report,
        &format!("--screenshot={}", png.display()),
        dir.path(),
    );
    assert!(png.exists(), "chromium wrote no screenshot");
    let (width, height, pixels) = decode_rgb(&png);
    assert_eq!((width, height), (1200, 2000));

    // Text, table rules, verdict badges and charts: a blank or failed render
    // is all white (or one flat colour) and has next to none.
    let inked = pixels.iter().filter(|p| p.iter().any(|&c| c < 200)).count();
    let total = pixels.len();
    assert!(
        inked > total / 200,
        "only {inked} of {total} pixels are not near-white: the page looks blank"
    );
    // The growing series' lines. The LEAKED badge and summary are other reds,
    // so this colour appears only if the SVG charts were drawn.
    let red = pixels.iter().filter(|p| close(**p, GROWING, 10)).count();
    assert!(
        red > 400,
        "only {red} pixels of the growing-series colour: the charts did not render"
    );
    // Keep the screenshot next to the test's output for a human to look at.
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report-screenshot.png");
    std::fs::copy(&png, &kept).unwrap();
    println!(
        "screenshot: {} ({inked} inked, {red} chart-red pixels)",
        kept.display()
    );
}

#[test]
fn clicking_a_header_sorts_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let report = write_report(dir.path());
    let leak = "leaky/test_seed_article.py::test_people_kept_in_global_list";
    let clean = "clean/test_seed_article_clean.py::";

    // Collection order: the leaky file was named first.
    let nodes = |rows: Vec<String>| -> Vec<String> {
        rows.iter()
            .map(|row| row.split('@').next().unwrap().to_string())
            .collect()
    };
    let unsorted = nodes(rows_after_clicks(&report, &[], dir.path()));
    assert_eq!(unsorted.len(), 6);
    assert_eq!(unsorted[0], leak);
    // Test names, ascending: every clean test before the leaky one.
    let by_name = nodes(rows_after_clicks(&report, &[0], dir.path()));
    assert!(
        by_name[..5].iter().all(|n| n.starts_with(clean)),
        "{by_name:?}"
    );
    assert_eq!(by_name[5], leak);
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name, sorted);
    // Runs, clicked twice: descending after ascending. Compared by the runs
    // the table shows: a clean test may take as many runs as the leak when
    // its series was noisy on a loaded machine.
    let runs_of = |rows: &[String]| -> Vec<u32> {
        rows.iter()
            .map(|row| row.rsplit('@').next().unwrap().parse().unwrap())
            .collect()
    };
    let runs_ascending = runs_of(&rows_after_clicks(&report, &[2], dir.path()));
    let mut expected = runs_ascending.clone();
    expected.sort();
    assert_eq!(runs_ascending, expected);
    let runs_descending = runs_of(&rows_after_clicks(&report, &[2, 2], dir.path()));
    expected.reverse();
    assert_eq!(runs_descending, expected);
}

/// Runs leakhunt on the seed article's fixtures (one leak, five clean tests)
/// with `--html` into `dir`, and returns the report's path.
fn write_report(dir: &Path) -> PathBuf {
    let report = dir.join("report.html");
    let run = leakhunt(&[
        "leaky/test_seed_article.py",
        "clean/test_seed_article_clean.py",
        "--html",
        report.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    report
}

/// Runs headless Chromium on `page` with `action` (`--screenshot=…` or
/// `--dump-dom`) and returns what it printed, with every background service
/// off: without those flags it tries the network and stalls.
fn chromium(page: &Path, action: &str, scratch: &Path) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML report test needs headless Chromium \
         (Debian: apt-get install chromium; .ci/run installs it)"
    );
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let out_path = profile.path().join("stdout");
    let log_path = profile.path().join("stderr");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&log_path).unwrap())
        .spawn()
        .expect("chromium starts");
    // A stalled browser must fail the test, not hang the suite.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in 120 s:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    std::fs::read_to_string(&out_path).unwrap()
}

/// Clicks the column headers of a copy of the report and returns the node
/// ids in the order the table then shows, read back from the live DOM.
fn rows_after_clicks(report: &Path, clicks: &[usize], scratch: &Path) -> Vec<String> {
    let html = std::fs::read_to_string(report).unwrap();
    let clicks: Vec<String> = clicks.iter().map(|i| format!("h[{i}].click();")).collect();
    let probe = format!(
        "<script>var h = document.querySelectorAll(\"#tests th\");{}\
         document.body.setAttribute(\"data-order\", Array.prototype.map.call(\
         document.querySelectorAll(\"#tests tbody tr\"), function (r) {{ \
         return r.querySelector(\"td.node\").textContent + \"@\" + r.cells[2].textContent; }}).join(\"|\"));\
         </script></body>",
        clicks.concat()
    );
    let page = scratch.join("clicked.html");
    std::fs::write(&page, html.replace("</body>", &probe)).unwrap();
    let dom = chromium(&page, "--dump-dom", scratch);
    let order = dom
        .split("data-order=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no order in the dumped DOM:\n{dom}"));
    order.split('|').map(str::to_owned).collect()
}

/// The screenshot as 8-bit RGB pixels, whatever layout Chromium chose.
fn decode_rgb(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(BufReader::new(File::open(path).unwrap()));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let bytes = &buffer[..frame.buffer_size()];
    let pixels = match frame.color_type {
        png::ColorType::Rgb => bytes.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Rgba => bytes.chunks_exact(4).map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Grayscale => bytes.iter().map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => bytes.chunks_exact(2).map(|p| [p[0]; 3]).collect(),
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    (frame.width, frame.height, pixels)
}

fn close(pixel: [u8; 3], colour: [u8; 3], tolerance: u8) -> bool {
    pixel
        .iter()
        .zip(colour)
        .all(|(&a, b)| a.abs_diff(b) <= tolerance)
}
