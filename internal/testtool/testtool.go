// Package testtool holds what the tests of several packages share: finding
// the independent programs that tests check mfad against (oathtool, zbarimg,
// pdftotext and the like), a settable clock and a log buffer that many
// goroutines may write to.
package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Look returns the path of the program name, from Debian package pkg. When
// it is missing the test is skipped with a message naming the package,
// except under CI=true, where a missing program fails the test: CI installs
// every one.
func Look(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found (Debian package %s): %v", name, pkg, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
