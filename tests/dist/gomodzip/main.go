// gomodzip publishes Go modules into a file-based GOPROXY (make dist): for each module path=dir,
// <out>/<path>/@v/<version>.zip (golang.org/x/mod/zip, so the go command accepts it: nested modules
// left out, names checked), .mod (the go.mod), .info, the list of versions, and <version>.ziphash:
// the zip's h1: hash (what go.sum records for it). It prints the two go.sum lines of each module.
//
// A zip holds exactly the files git tracks under dir (as they are in the work tree) plus the files
// named by -add, nothing else: no untracked or ignored file of the work tree (a stale bindings-go/lib
// of an earlier build, an editor's backup) reaches it. The entries are sorted by name, their
// timestamps are zip's zero time, and the .info's Time is SOURCE_DATE_EPOCH (the last commit's
// time if unset), so the same sources give the same bytes.
//
//	go run . -version v0.1.0 -out ../../../dist/goproxy \
//	  -add k8sretry.dev/go:lib/linux_amd64/libk8sretry.a=/abs/libk8sretry.a \
//	  k8sretry.dev/go=../../../bindings-go
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// adds collects -add module/path:name/in/zip=file.
type adds map[string]map[string]string

func (a adds) String() string { return "" }

func (a adds) Set(v string) error {
	mod, rest, ok := strings.Cut(v, ":")
	name, file, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 || mod == "" || name == "" || file == "" {
		return fmt.Errorf("%q: want module/path:name/in/zip=file", v)
	}
	if a[mod] == nil {
		a[mod] = map[string]string{}
	}
	if _, dup := a[mod][name]; dup {
		return fmt.Errorf("%s: %s added twice", mod, name)
	}
	a[mod][name] = file
	return nil
}

func main() {
	version := flag.String("version", "", "the version to publish (v0.1.0)")
	out := flag.String("out", "", "the GOPROXY directory")
	extra := adds{}
	flag.Var(extra, "add", "module/path:name/in/zip=file: a file that is not tracked by git (repeatable)")
	flag.Parse()
	if *version == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gomodzip -version vX.Y.Z -out DIR [-add module:name=file]... module/path=dir ...")
		os.Exit(2)
	}
	stamp, err := sourceDate()
	fail(err)
	published := map[string]bool{}
	var sums []string
	for _, arg := range flag.Args() {
		path, dir, ok := strings.Cut(arg, "=")
		if !ok {
			fail(fmt.Errorf("%q: want module/path=dir", arg))
		}
		lines, err := publish(module.Version{Path: path, Version: *version}, dir, *out, extra[path], stamp)
		fail(err)
		sums = append(sums, lines...)
		published[path] = true
	}
	for mod := range extra {
		if !published[mod] {
			fail(fmt.Errorf("-add names %s, which is not published", mod))
		}
	}
	// <out>/go.sum: the lines a user's go.sum takes for these modules (bindings-go/README.md).
	slices.Sort(sums)
	fail(os.WriteFile(filepath.Join(*out, "go.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o644))
	fmt.Printf("[gomodzip] %s:\n%s\n", filepath.Join(*out, "go.sum"), strings.Join(sums, "\n"))
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gomodzip:", err)
		os.Exit(1)
	}
}

// sourceDate: SOURCE_DATE_EPOCH, or the time of the last commit.
func sourceDate() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		b, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is unset and git log failed: %w", err)
		}
		v = strings.TrimSpace(string(b))
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// file is one file of the zip: a work-tree file under its name in the module.
type file struct {
	name, path string
	info       fs.FileInfo
}

func (f file) Path() string                 { return f.name }
func (f file) Lstat() (os.FileInfo, error)  { return f.info, nil }
func (f file) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// tracked lists the files git tracks under dir (relative to dir, slash-separated).
func tracked(dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var names []string
	for _, n := range strings.Split(string(b), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("git tracks no file in %s", dir)
	}
	return names, nil
}

func moduleFiles(dir string, extra map[string]string) ([]modzip.File, error) {
	names, err := tracked(dir)
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = filepath.Join(dir, filepath.FromSlash(n))
	}
	for name, p := range extra {
		if _, dup := paths[name]; dup {
			return nil, fmt.Errorf("-add %s: git tracks a file of that name", name)
		}
		paths[name] = p
	}
	var files []modzip.File
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		info, err := os.Lstat(paths[name])
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("%s (%s) is not a regular file", name, paths[name])
		}
		files = append(files, file{name: name, path: paths[name], info: info})
	}
	return files, nil
}

// publish writes m's files into out and returns its two go.sum lines.
func publish(m module.Version, dir, out string, extra map[string]string, stamp time.Time) ([]string, error) {
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return nil, err
	}
	at := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return nil, err
	}
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil, err
	}
	files, err := moduleFiles(dir, extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m, err)
	}
	zipPath := filepath.Join(at, m.Version+".zip")
	zipFile, err := os.Create(zipPath)
	if err != nil {
		return nil, err
	}
	if err := modzip.Create(zipFile, m, files); err != nil {
		zipFile.Close()
		return nil, fmt.Errorf("%s: %w", m, err)
	}
	if err := zipFile.Close(); err != nil {
		return nil, err
	}
	zipHash, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return nil, err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(goMod)), nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(at, m.Version+".ziphash"), []byte(zipHash+"\n"), 0o644); err != nil {
		return nil, err
	}
	info, _ := json.Marshal(map[string]string{"Version": m.Version, "Time": stamp.Format(time.RFC3339)})
	if err := os.WriteFile(filepath.Join(at, m.Version+".info"), info, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(at, m.Version+".mod"), goMod, 0o644); err != nil {
		return nil, err
	}
	listed, _ := os.ReadFile(filepath.Join(at, "list"))
	versions := strings.Fields(string(listed))
	if !slices.Contains(versions, m.Version) {
		versions = append(versions, m.Version)
	}
	fmt.Printf("[gomodzip] %s -> %s (%s)\n", m, at, zipHash)
	if err := os.WriteFile(filepath.Join(at, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return []string{
		fmt.Sprintf("%s %s %s", m.Path, m.Version, zipHash),
		fmt.Sprintf("%s %s/go.mod %s", m.Path, m.Version, modHash),
	}, nil
}
