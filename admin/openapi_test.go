package admin

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/grants"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/users"
)

// jsonNames are the JSON field names of struct type t.
func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPISchemasMatchTypes: each schema of openapi.json lists exactly
// the JSON fields of the type the API reads or writes, so a field added
// to a type (clients.Metadata, say) without its documentation fails here.
// (Which routes the document covers: TestOpenAPICoversRoutes in cmd/authd.)
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for schema, typ := range map[string]any{
		"User": users.View{}, "UserWrite": userBody{}, "ClientMetadata": clients.Metadata{}, "Grant": grants.View{},
		"RotateSecretRequest": rotateBody{}, "RotateSecretResponse": rotated{}, "UserList": list[users.View]{},
		"Session": sessions.View{},
	} {
		var got []string
		for p := range doc.Components.Schemas[schema].Properties {
			got = append(got, p)
		}
		slices.Sort(got)
		if want := jsonNames(reflect.TypeOf(typ)); !slices.Equal(got, want) {
			t.Errorf("schema %s has %v; %T has %v", schema, got, typ, want)
		}
	}
}
