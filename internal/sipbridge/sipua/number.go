package sipua

import (
	"fmt"
	"regexp"
	"strings"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// DialledNumber is the user part of the Request-URI for an E.164 number,
// written the way Exotel wants it dialled: an Indian number (+91) in
// national form with a leading 0 (+918044319240 → 08044319240), any other
// number as its E.164 digits without the '+' (+14155550100 → 14155550100).
// It returns an error unless number is '+' followed by 7 to 15 digits.
func DialledNumber(number string) (string, error) {
	if !e164.MatchString(number) {
		return "", fmt.Errorf("number %q is not in E.164 form (+ and 7 to 15 digits)", number)
	}
	if national, ok := strings.CutPrefix(number, "+91"); ok {
		return "0" + national, nil
	}
	return number[1:], nil
}
