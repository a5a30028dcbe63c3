// Package clientdoctest owns the test doubles of Client ID Metadata
// Document tests: a TLS document host on loopback that counts the requests
// for each path (Server), and a clock the test moves (Clock).
package clientdoctest
