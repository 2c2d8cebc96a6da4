// Marks the server backends' tests as ignored, with the reason, when they cannot run: the
// URL of the test server is not set (`RELATA_TEST_POSTGRES`, `RELATA_TEST_MYSQL`) or the
// backend's Cargo feature is off. `cargo test` then lists them as ignored, with the reason,
// instead of passing them silently. Under `CI=true` nothing is ignored: a missing server fails
// its tests. (registrar's build script is this file too.)

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    for (backend, var) in [
        ("postgres", "RELATA_TEST_POSTGRES"),
        ("mysql", "RELATA_TEST_MYSQL"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg(relata_skip_{backend})");
        let url_set = std::env::var(var).is_ok_and(|v| !v.is_empty());
        let feature =
            std::env::var_os(format!("CARGO_FEATURE_{}", backend.to_uppercase())).is_some();
        // Under CI a test that cannot reach its server runs, and fails.
        let runs = ci || (url_set && feature);
        if !runs {
            println!("cargo::rustc-cfg=relata_skip_{backend}");
        }
    }
}
