package dialq

import (
	"sync"
	"time"
	// The zones travel with the binary: a container without
	// /usr/share/zoneinfo still reads its callees' local times.
	_ "time/tzdata"

	"github.com/nyaruka/phonenumbers"
)

// ContactTimezone is the zone a contact's calling windows are read in: its
// own (given), else the one zone its E.164 number's prefix lies in, else
// def (the campaign's default_timezone): a number of a country or area with
// several zones (the US as a whole, Russia, ...) needs one of the others.
// given and def must be valid zones (LoadZone).
func ContactTimezone(e164, given, def string) string {
	if given != "" {
		return given
	}
	zones, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err == nil && len(zones) == 1 && zones[0] != phonenumbers.UNKNOWN_TIMEZONE {
		if _, err := LoadZone(zones[0]); err == nil {
			return zones[0]
		}
	}
	return def
}

// zones caches time.LoadLocation, which reads a file each time: a campaign
// of a million contacts asks for a handful of zones a million times.
var zones sync.Map // name → *time.Location

// LoadZone returns the IANA time zone name. Returns EINVALID for a name
// that is not one ("Local" included: it is this machine's, not a callee's).
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, Errorf(EINVALID, "%q is not an IANA time zone such as America/New_York.", name)
	}
	zones.Store(name, loc)
	return loc, nil
}
