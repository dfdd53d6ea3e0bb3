// Package archtest holds no code, only a test that enforces the import
// rules of the gateway's layout (house-style §6): it runs `go list -json`
// over the module and fails when a package imports something its row of
// the table forbids, directly or (for most rules) through its
// dependencies. Test-only imports are checked where a rule says so.
//
// To change the layout, change the table in archtest_test.go together with
// the design document, not around it.
package archtest
