package restauth

import (
	"fmt"
	"maps"

	"golang.org/x/crypto/bcrypt"
)

// Add adds user with password and writes the file. An existing user is ErrExists (Set changes
// a password).
func (u *Users) Add(user, password string) error {
	return u.edit(user, password, func(exists bool) error {
		if exists {
			return fmt.Errorf("restauth: %s: %w", user, ErrExists)
		}
		return nil
	})
}

// Set gives user password, adding the user if needed, and writes the file.
func (u *Users) Set(user, password string) error {
	return u.edit(user, password, func(bool) error { return nil })
}

func (u *Users) edit(user, password string, allow func(exists bool) error) error {
	if err := checkName(user); err != nil {
		return fmt.Errorf("restauth: %w", err)
	}
	if err := checkPassword(password); err != nil {
		return fmt.Errorf("restauth: %w", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), hashCost)
	if err != nil {
		return fmt.Errorf("restauth: hash: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	_, exists := u.hashes[user]
	if err := allow(exists); err != nil {
		return err
	}
	next := maps.Clone(u.hashes)
	next[user] = hash
	return u.save(next)
}

// Remove removes user and writes the file; an unknown user is ErrNotFound.
func (u *Users) Remove(user string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.hashes[user]; !ok {
		return fmt.Errorf("restauth: %s: %w", user, ErrNotFound)
	}
	next := maps.Clone(u.hashes)
	delete(next, user)
	return u.save(next)
}

// save writes hashes and makes them the current users. Called with mu held.
func (u *Users) save(hashes map[string][]byte) error {
	stamp, err := writeFile(u.path, hashes)
	if err != nil {
		return err
	}
	u.hashes, u.stamp = hashes, stamp
	clear(u.ok)
	return nil
}
