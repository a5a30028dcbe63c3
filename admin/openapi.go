package admin

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of the admin API, served at
// /admin/openapi.json (behind the admin token).
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(OpenAPI)
}
