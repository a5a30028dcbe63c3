// Package users owns the lifecycle of end-user accounts: creating, changing,
// disabling, listing and deleting them, with the validation and the side
// effects (a password change or disabling ends the user's grants and browser
// sessions; deleting also forgets the user's consents) that `authd users …`
// and the admin API share, so the two cannot drift. Records live in storage;
// grants in package grants.
package users
