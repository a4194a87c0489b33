//! A leak held through bounded caches: the test is run until they are full
//! and judged again, under both engines.

mod common;

use common::{assert_outcomes, leakhunt};

const FILE: &str = "bounded_cache/test_bounded_cache.py";

fn run(engine: &str, json: &std::path::Path) -> common::Run {
    let venv = common::pytest_venv();
    leakhunt(&[
        FILE,
        "-v",
        "--engine",
        engine,
        "--python",
        venv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ])
}

#[test]
fn a_bounded_cache_is_filled_and_the_test_judged_again() {
    for engine in ["builtin", "pytest"] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("report.json");
        let run = run(engine, &json);
        assert_outcomes(
            &run,
            &[
                "bounded_cache/test_bounded_cache.py::test_fills_a_method_cache PASSED",
                "bounded_cache/test_bounded_cache.py::test_finds_the_cache_full PASSED",
                "bounded_cache/test_bounded_cache.py::test_leaks_behind_a_full_cache LEAKED",
                "bounded_cache/test_bounded_cache.py::test_leaks_beside_a_bounded_cache LEAKED",
                "bounded_cache/test_bounded_cache.py::test_outgrows_the_runs_to_fill_it LEAKED",
            ],
            "2 passed, 3 leaked",
            1,
            engine,
        );
        let lines: Vec<&str> = run.stdout.lines().collect();
        let formatter = "lru_cache of test_bounded_cache.Formatter.translate (maxsize 40), \
                         a bounded cache holding what grew";
        for line in [
            // Run until it missed 40 times: every entry is then one its
            // runs made, and the next test's take the place of this one's.
            format!("    judged again once {formatter}, was full of entries its runs made: 40 more runs"),
            "cause: dict: lru_cache of test_bounded_cache.registry -> (list) -> […] -> dict"
                .to_string(),
            "cause: dict: module test_bounded_cache -> kept (list) -> […] -> dict".to_string(),
            "lru_cache of test_bounded_cache.Token.text (maxsize 100000), a bounded cache \
             holding what grew, would not be full of entries its runs made within 1000 runs \
             or 30 s (5 more tried): a bounded cache reads as a leak until then"
                .to_string(),
        ] {
            assert!(
                lines.contains(&line.as_str()),
                "{engine}: missing {line:?} in\n{}",
                run.stdout
            );
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let tests = report["tests"].as_array().unwrap();
        assert_eq!(
            tests[0]["filled"],
            serde_json::json!({
                "caches": [{"name": "lru_cache of test_bounded_cache.Formatter.translate", "maxsize": 40}],
                "runs": 40,
                "full": true,
            }),
            "{engine}"
        );
        // Judged again: its series are the runs after the fill's.
        assert_eq!(
            tests[0]["runs"].as_u64().unwrap() - tests[0]["warmup"].as_u64().unwrap() + 1,
            tests[0]["series"]["objects"].as_array().unwrap().len() as u64,
            "{engine}"
        );
        assert_eq!(
            tests[4]["filled"]["full"],
            serde_json::json!(false),
            "{engine}"
        );
        assert_eq!(tests[4]["filled"]["runs"], serde_json::json!(5), "{engine}");
    }
}
