// gomodzip publishes Go modules into a file-based GOPROXY (make dist): for each -module path=dir,
// <out>/<path>/@v/<version>.zip (golang.org/x/mod/zip, so the go command accepts it: nested modules
// and VCS files left out, names checked), .mod (the go.mod), .info and the list of versions.
//
//	go run . -version v0.1.0 -out ../../../dist/goproxy k8sretry.dev/go=../../../bindings-go
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

func main() {
	version := flag.String("version", "", "the version to publish (v0.1.0)")
	out := flag.String("out", "", "the GOPROXY directory")
	flag.Parse()
	if *version == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gomodzip -version vX.Y.Z -out DIR module/path=dir ...")
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		path, dir, ok := strings.Cut(arg, "=")
		if !ok {
			fail(fmt.Errorf("%q: want module/path=dir", arg))
		}
		fail(publish(module.Version{Path: path, Version: *version}, dir, *out))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gomodzip:", err)
		os.Exit(1)
	}
}

func publish(m module.Version, dir, out string) error {
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	at := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	zipFile, err := os.Create(filepath.Join(at, m.Version+".zip"))
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(zipFile, m, dir); err != nil {
		zipFile.Close()
		return fmt.Errorf("%s: %w", m, err)
	}
	if err := zipFile.Close(); err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"Version": m.Version, "Time": time.Now().UTC().Format(time.RFC3339)})
	if err := os.WriteFile(filepath.Join(at, m.Version+".info"), info, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(at, m.Version+".mod"), goMod, 0o644); err != nil {
		return err
	}
	listed, _ := os.ReadFile(filepath.Join(at, "list"))
	versions := strings.Fields(string(listed))
	if !slices.Contains(versions, m.Version) {
		versions = append(versions, m.Version)
	}
	fmt.Printf("[gomodzip] %s -> %s\n", m, at)
	return os.WriteFile(filepath.Join(at, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}
