// Package testclock owns the clock that tests set and move by hand, for
// code that takes its time from a Now function (keys, clientdoc).
package testclock
