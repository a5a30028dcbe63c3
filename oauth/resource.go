package oauth

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// Resource indicators (RFC 8707). A client names the APIs a token is for
// with the repeatable resource parameter, at the authorization endpoint and
// at the token endpoint. authd hands the values to fosite as its audience
// (fosite's audience parameter, which authd does not read from clients):
// fosite checks them against the client's registered audiences (--audience)
// with resourceMatching, carries them with the authorization into the code,
// the grant and every refresh (RequestedAudience: the grant's resources),
// and grants them as the access token's audience (GrantedAudience: the JWT
// aud claim, introspection's aud). At the token endpoint, resource narrows:
// the token is then for those of the grant's resources only (tokenAudience).

const (
	resourceParam = "resource"
	// fositeAudienceParam is the parameter fosite reads the audience from.
	fositeAudienceParam = "audience"
	// maxResources bounds the resource values of one request.
	maxResources = 16
)

// invalidTarget is RFC 8707 §2's error: the resource is malformed, unknown
// or not one the client may ask for (400 at the token endpoint; redirected
// from the authorization endpoint).
func invalidTarget(hint string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{
		ErrorField:       "invalid_target",
		DescriptionField: "The requested resource is invalid, unknown, or not allowed for this client.",
		HintField:        hint, CodeField: http.StatusBadRequest,
	}
}

// resourcesAsAudience puts form's resource values where fosite reads its
// audience, after checking them (absolute URIs without fragment, RFC 8707
// §2). An audience parameter the client sent is dropped: authd's only
// spelling is resource. On invalid_target nothing is put there, so the
// rest of the request can still be validated (and the error redirected).
func resourcesAsAudience(form url.Values) error {
	form.Del(fositeAudienceParam)
	rs := form[resourceParam]
	if len(rs) == 0 {
		return nil
	}
	if len(rs) > maxResources {
		return invalidTarget("Too many resource parameters.")
	}
	for _, r := range rs {
		if !storage.IsResourceURI(r) {
			return invalidTarget("A resource must be an absolute URI without a fragment.")
		}
	}
	form[fositeAudienceParam] = slices.Clone(rs)
	return nil
}

// resourceMatching is fosite's AudienceMatchingStrategy: every requested
// resource (needle) is one the client registered (haystack), compared
// exactly (fosite's default strategy would also accept any path below a
// registered URI, which an RS's --resource never matches), else
// invalid_target.
func resourceMatching(haystack, needle []string) error {
	if fosite.ExactAudienceMatchingStrategy(haystack, needle) != nil {
		return invalidTarget("The client is not allowed to request a token for this resource.")
	}
	return nil
}

// deviceResources are the resources a device authorization request asks
// for (RFC 8707 with RFC 8628: the device authorization request carries
// them, as an authorization request does), each one the client registered.
func deviceResources(client fosite.Client, form url.Values) ([]string, error) {
	if err := resourcesAsAudience(form); err != nil {
		return nil, err
	}
	rs := form[fositeAudienceParam]
	if err := resourceMatching(client.GetAudience(), rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// tokenAudience decides the audience of the access token a token request
// gets (RFC 8707 §2.2). requested are the request's resources, grant the
// resources of the authorization behind a code, refresh or device grant
// (what fosite carried as the requested audience), allowed the client's
// registered audiences now. client_credentials gets what it requested
// (fosite checked it against allowed). Otherwise the client must still be
// registered for every resource of the grant (fosite's refresh handler
// checks the previous token's audience the same way), and the token is for
// all of them, or, when the request names resources, for those, each of
// which must be one of the grant's.
func tokenAudience(clientCredentials bool, requested, grant, allowed []string) ([]string, error) {
	if clientCredentials {
		return requested, nil
	}
	if err := resourceMatching(allowed, grant); err != nil {
		return nil, invalidTarget("The client is no longer allowed a resource of this grant.")
	}
	target := grant
	if len(requested) > 0 {
		for _, r := range requested {
			if !slices.Contains(grant, r) {
				return nil, invalidTarget("The resource was not part of the authorization this grant comes from.")
			}
		}
		target = requested
	}
	return slices.Clone(target), nil
}

// audienceBound is an access request whose audience tokenAudience decided:
// fosite's code grant adds the authorization's granted audience back while
// it builds the response, and only the decided resources may be added.
type audienceBound struct {
	*fosite.AccessRequest
	target []string
}

func (a *audienceBound) GrantAudience(aud string) {
	if slices.Contains(a.target, aud) {
		a.AccessRequest.GrantAudience(aud)
	}
}

// bindAudience sets the token request ar's audience (tokenAudience) and
// returns the request to build the response from.
func bindAudience(ar fosite.AccessRequester, form url.Values) (fosite.AccessRequester, error) {
	req, ok := ar.(*fosite.AccessRequest)
	if !ok {
		return nil, fosite.ErrServerError.WithDebug("the token request is not fosite's access request")
	}
	var allowed []string
	if c, ok := storedClient(ar.GetClient()); ok {
		allowed = c.Audience
	}
	cc := ar.GetGrantTypes().ExactOne("client_credentials")
	target, err := tokenAudience(cc, form[fositeAudienceParam], ar.GetRequestedAudience(), allowed)
	if err != nil {
		return nil, err
	}
	req.GrantedAudience = target
	return &audienceBound{AccessRequest: req, target: target}, nil
}

// visibleTo decides whether a live token is reported active to the
// introspecting client caller (RFC 7662 §2.2 leaves it to the server): a
// refresh token only to the client holding it; an access token to every
// client allowed to introspect, except that a resource server registered
// with --resource sees only the tokens whose audience holds its resource.
func visibleTo(caller *fositestore.Client, use fosite.TokenUse, holder string, audience []string) bool {
	if use == fosite.RefreshToken {
		return caller.ID == holder
	}
	return caller.Resource == "" || slices.Contains(audience, caller.Resource)
}
