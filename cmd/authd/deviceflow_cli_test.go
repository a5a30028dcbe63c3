package main

import (
	"strings"
	"testing"

	"github.com/authd/authd/storage"
)

func TestValidateDeviceClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      storage.Client
		secret string
		errHas string // "" = valid
	}{
		{"public device-only client, no redirect URIs",
			storage.Client{ID: "tv", Public: true, GrantTypes: []string{storage.DeviceCodeGrantType}}, "", ""},
		{"device client with refresh tokens",
			storage.Client{ID: "tv", Public: true, GrantTypes: []string{storage.DeviceCodeGrantType, "refresh_token"}}, "", ""},
		{"confidential device client",
			storage.Client{ID: "console", GrantTypes: []string{storage.DeviceCodeGrantType}}, "console-secret-0123", ""},
		{"device and code grants together",
			storage.Client{ID: "app", Public: true, GrantTypes: []string{storage.DeviceCodeGrantType, "authorization_code"},
				RedirectURIs: []string{"http://127.0.0.1:8081/cb"}}, "", ""},
		{"redirect URI without the code grant",
			storage.Client{ID: "tv", Public: true, GrantTypes: []string{storage.DeviceCodeGrantType}, RedirectURIs: []string{"http://127.0.0.1/cb"}}, "",
			"--redirect-uri is only meaningful"},
		{"refresh_token alone",
			storage.Client{ID: "x", Public: true, GrantTypes: []string{"refresh_token"}}, "", "refresh_token needs a grant"},
		{"short name is not a grant type",
			storage.Client{ID: "x", Public: true, GrantTypes: []string{"device_code"}}, "", `unknown grant type "device_code"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.AccessTokenFormat, c.IDTokenAlg = "opaque", "RS256" // the defaults of clients create's flags
			err := checkClient(c, tc.secret)
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}
