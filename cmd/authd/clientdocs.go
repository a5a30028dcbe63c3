package main

import (
	"crypto/x509"
	"time"

	"github.com/authd/authd/clientdoc"
)

// clientDocTesting is what tests change about Client ID Metadata Document
// fetching: the roots their TLS document server's certificate chains to,
// and the clock documents age by.
type clientDocTesting struct {
	roots *x509.CertPool
	now   func() time.Time
}

// clientDocuments is the Client ID Metadata Document resolver of
// AUTHD_CLIENT_ID_METADATA_DOCUMENTS=on (nil when off).
func (a *App) clientDocuments() *clientdoc.Resolver {
	c := a.Config
	if !c.ClientIDMetadataDocuments {
		return nil
	}
	return clientdoc.New(clientdoc.Config{
		AllowPrivate: c.ClientIDMetadataAllowPrivate, RootCAs: c.clientDocs.roots,
		Now: c.clientDocs.now, Logger: a.Log,
	})
}
