package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// kvmPackage is one package with tests built only under a build tag.
type kvmPackage struct {
	// ImportPath is the package's import path.
	ImportPath string
	// Dir is its source directory: the tests run there, as go test does.
	Dir string
	// Tests are the top-level Test functions in its tagged files.
	Tests []string
	// HardwareOnly are the Tests whose doc comment holds the directive
	// //testhosts:hardware-only: they need a host where guest ring 0 runs
	// in hardware, so on an emulated-ring-0 (PVM) host they run on the
	// nested test host only.
	HardwareOnly []string
}

// Short is the package path below the module, for table rows and file names.
func (p kvmPackage) Short(module string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
	if s == "" {
		return "."
	}
	return s
}

// discover lists the packages under patterns whose test files differ with
// and without the build tag, and the Test functions in the files that only the
// tag builds. Deciding by build tag rather than by name keeps the list exact:
// a KVM test is any test that a plain `go test ./...` does not compile.
func discover(dir, tag string, patterns []string) (module string, pkgs []kvmPackage, err error) {
	tagged, err := testFiles(dir, []string{"-tags", tag}, patterns)
	if err != nil {
		return "", nil, err
	}
	plain, err := testFiles(dir, nil, patterns)
	if err != nil {
		return "", nil, err
	}
	list := exec.Command("go", "list", "-m")
	list.Dir = dir
	out, err := list.Output()
	if err != nil {
		return "", nil, fmt.Errorf("go list -m: %w", err)
	}
	module = strings.TrimSpace(string(out))
	for ip, t := range tagged {
		only := map[string]bool{}
		for _, f := range t.files {
			only[f] = true
		}
		for _, f := range plain[ip].files {
			delete(only, f)
		}
		var tests, hw []string
		for f := range only {
			names, hwOnly, err := testFuncs(filepath.Join(t.dir, f))
			if err != nil {
				return "", nil, err
			}
			tests = append(tests, names...)
			hw = append(hw, hwOnly...)
		}
		if len(tests) > 0 {
			sort.Strings(tests)
			sort.Strings(hw)
			pkgs = append(pkgs, kvmPackage{ImportPath: ip, Dir: t.dir, Tests: tests, HardwareOnly: hw})
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return module, pkgs, nil
}

type pkgFiles struct {
	dir   string
	files []string
}

// testFiles maps each package to its test files under the given build flags.
func testFiles(dir string, flags, patterns []string) (map[string]pkgFiles, error) {
	args := append([]string{"list", "-e"}, flags...)
	args = append(args, "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}},{{join .XTestGoFiles \",\"}}")
	args = append(args, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string]pkgFiles{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue
		}
		var files []string
		for _, name := range strings.Split(f[2], ",") {
			if name != "" {
				files = append(files, name)
			}
		}
		m[f[0]] = pkgFiles{dir: f[1], files: files}
	}
	return m, nil
}

// hardwareOnlyDirective marks a test that needs guest ring 0 in hardware.
const hardwareOnlyDirective = "//testhosts:hardware-only"

// testFuncs returns the names of the top-level test functions in a file:
// func TestXxx(t *testing.T), the form `go test` runs (TestMain excluded);
// and those of them whose doc comment holds hardwareOnlyDirective.
func testFuncs(path string) (names, hardwareOnly []string, err error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution|parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Name.Name == "TestMain" {
			continue
		}
		if fn.Type.Params == nil || len(fn.Type.Params.List) != 1 {
			continue
		}
		if sel, ok := fn.Type.Params.List[0].Type.(*ast.StarExpr); ok {
			if s, ok := sel.X.(*ast.SelectorExpr); ok && s.Sel.Name == "T" {
				names = append(names, fn.Name.Name)
				if fn.Doc != nil {
					for _, c := range fn.Doc.List {
						if strings.TrimSpace(c.Text) == hardwareOnlyDirective {
							hardwareOnly = append(hardwareOnly, fn.Name.Name)
						}
					}
				}
			}
		}
	}
	return names, hardwareOnly, nil
}

// splitHardwareOnly returns pkgs without their hardware-only tests (a
// package left with none is dropped), and the packages holding only those.
func splitHardwareOnly(pkgs []kvmPackage) (rest, hw []kvmPackage) {
	for _, p := range pkgs {
		only := map[string]bool{}
		for _, t := range p.HardwareOnly {
			only[t] = true
		}
		r, h := p, p
		r.Tests, h.Tests = nil, nil
		for _, t := range p.Tests {
			if only[t] {
				h.Tests = append(h.Tests, t)
			} else {
				r.Tests = append(r.Tests, t)
			}
		}
		if len(r.Tests) > 0 {
			rest = append(rest, r)
		}
		if len(h.Tests) > 0 {
			hw = append(hw, h)
		}
	}
	return rest, hw
}
