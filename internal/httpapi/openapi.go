package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 document of the API. The tests check that it
// describes every route in the routes table and that every response the API
// gives in them matches it.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI serves the OpenAPI document. It needs no token: the document
// holds nothing secret, and clients need it before they have a token.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
