//! Misdeclarations are compile errors with clear messages (snapshots in tests/ui/*.stderr).

#[test]
fn misdeclarations_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
