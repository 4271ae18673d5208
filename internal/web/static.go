package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
)

// asset is one file of static/, served under a name that holds a hash of
// its content ("style.3f2a1b4c5d6e.css"), so that browsers may keep it
// for a year and a new release is fetched at once.
type asset struct {
	body  []byte
	ctype string
}

// assets maps served names to files, and assetNames a file's name in
// static/ to its served path.
var assets, assetNames = loadAssets()

func loadAssets() (map[string]asset, map[string]string) {
	byServed, byName := map[string]asset{}, map[string]string{}
	names, err := fs.Glob(files, "static/*")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		body, err := files.ReadFile(name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		file := path.Base(name)
		ext := path.Ext(file)
		served := strings.TrimSuffix(file, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		byServed[served] = asset{body: body, ctype: ctype}
		byName[file] = "/static/" + served
	}
	return byServed, byName
}

// assetPath returns the path a page links a static file by. An unknown
// name is a mistake in a template, caught by the tests that draw every
// page.
func assetPath(name string) string {
	if p, ok := assetNames[name]; ok {
		return p
	}
	panic("web: no static file " + name)
}

func (h *Handler) static(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	a, ok := assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}
