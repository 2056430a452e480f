// Package secret seals small secrets (SIP passwords) for storage with
// AES-256-GCM, so a database dump does not hold them in the clear.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of a sealing key.
const KeySize = 32

// version prefixes every sealed value so the scheme can change later.
const version byte = 1

// Box seals and opens secrets with one key.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a base64 key as set in DIALQ_SECRET_KEY.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("must be %d random bytes in base64 (e.g. `openssl rand -base64 32`)", KeySize)
	}
	return key, nil
}

// BoxFromKey returns the Box of a base64 key as set in DIALQ_SECRET_KEY.
func BoxFromKey(s string) (*Box, error) {
	key, err := ParseKey(s)
	if err != nil {
		return nil, err
	}
	return NewBox(key)
}

// NewKey returns a random key in the base64 form ParseKey reads.
func NewKey() string {
	key := make([]byte, KeySize)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// Seal encrypts plaintext; an empty plaintext seals to nil.
func (b *Box) Seal(plaintext string) []byte {
	if plaintext == "" {
		return nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, []byte(plaintext), []byte{version})
}

// ErrOpen is returned for a sealed value this Box cannot open: another key,
// or a damaged value.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong DIALQ_SECRET_KEY?)")

// Open decrypts a value Seal made; nil opens to "".
func (b *Box) Open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	n := b.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != version {
		return "", ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte{version})
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}
