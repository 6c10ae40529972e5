package docs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// sect is the section sign, written as an escape so that the patterns below do not read as
// citations. TestCitationsResolve skips this file; TestCheckerCatches covers its logic.
const sect = "\u00a7"

var (
	// citationRE: what follows the section sign: a part letter with dotted numbers (E, E.3, E.1b)
	// or numbers (0, 1; and the numbered sections of RFCs and ITU-T texts, which are qualified).
	citationRE = regexp.MustCompile(sect + `([A-Z](?:\.\d+[a-z]?)*|\d+(?:\.\d+)*)`)
	headingRE  = regexp.MustCompile(`^#{1,6}\s+` + sect + `([A-Z](?:\.\d+[a-z]?)*|\d+(?:\.\d+)*)\s`)
	anchorRE   = regexp.MustCompile(`<a id="([^"]+)"></a>`)
	itemRE     = regexp.MustCompile(`^(\d+)\.\s`)
	// itemRefRE reads "item 10" (or the older "rule 10") right after a citation of section 0.
	itemRefRE = regexp.MustCompile(`^\s+(?:item|rule)s?\s+(\d+)`)
	// chainRE is what may stand between two citations of one list or range: "§A.1, §A.3",
	// "§P.1 and §P.5", "§E.2–§E.8". A citation after such a gap shares the previous one's source.
	chainRE = regexp.MustCompile(`^\s*(?:,|;|/|–|-|—|\band\b|\bor\b|\bto\b)?\s*$`)
	rangeRE = regexp.MustCompile(`^\s*(?:–|-|—)\s*$`)
	// externalRE: the citation belongs to another specification named just before it.
	externalRE = regexp.MustCompile(`(?:\bRFC\s?\d+|\bITU-T\s+H\.26[45]|\bH\.26[45])\s*$`)
	// otherDocRE: the citation belongs to another Markdown document named just before it.
	otherDocRE = regexp.MustCompile("([A-Za-z0-9_./-]+)\\.md[`'\"\\])]*\\s*$")
	// Documents that must not be cited any more: the shared research files outside the
	// repository. A reference to the protocol document is fine only as docs/protocol.md.
	browserRE  = regexp.MustCompile(`browser\.md`)
	protocolRE = regexp.MustCompile(`protocol\.md`)
)

// reference is what docs/protocol.md defines: its section ids and the numbered items of section 0.
type reference struct {
	sections map[string]bool
	items    map[int]bool
}

func loadReference(t *testing.T, path string) reference {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the protocol reference: %v", err)
	}
	ref := reference{sections: map[string]bool{}, items: map[int]bool{}}
	inZero := false
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			m := headingRE.FindStringSubmatch(line)
			inZero = m != nil && m[1] == "0"
			if m == nil {
				continue
			}
			id := m[1]
			if ref.sections[id] {
				t.Errorf("%s:%d: section %s%s is defined twice", path, i+1, sect, id)
			}
			ref.sections[id] = true
			if a := anchorRE.FindStringSubmatch(line); a == nil || a[1] != id {
				t.Errorf("%s:%d: heading of %s%s has no anchor <a id=%q></a>", path, i+1, sect, id, id)
			}
			continue
		}
		if m := itemRE.FindStringSubmatch(line); inZero && m != nil {
			n, _ := strconv.Atoi(m[1])
			if n != len(ref.items)+1 {
				t.Errorf("%s:%d: item %d of %s0 follows item %d", path, i+1, n, sect, len(ref.items))
			}
			ref.items[n] = true
		}
	}
	if len(ref.sections) < 10 || len(ref.items) == 0 {
		t.Fatalf("%s: found only %d sections and %d items of %s0; is the heading format still `## %sE.3 Title <a id=\"E.3\"></a>`?",
			path, len(ref.sections), len(ref.items), sect, sect)
	}
	return ref
}

// problem is one bad citation or reference, at a line of a file.
type problem struct {
	line int
	msg  string
}

// check returns the problems of one file's text against ref.
func (ref reference) check(text string) []problem {
	var out []problem
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		add := func(format string, args ...any) {
			out = append(out, problem{i + 1, fmt.Sprintf(format, args...)})
		}
		if browserRE.MatchString(line) {
			add("refers to browser.md, which is not in the repository: cite docs/protocol.md %sP instead", sect)
		}
		for _, loc := range protocolRE.FindAllStringIndex(line, -1) {
			if !strings.HasSuffix(line[:loc[0]], "docs/") {
				add("refers to protocol.md outside docs/: write docs/protocol.md")
			}
		}
		prevEnd, prevCited, prevID := -1, false, ""
		for _, m := range citationRE.FindAllStringSubmatchIndex(line, -1) {
			start, end, id := m[0], m[1], line[m[2]:m[3]]
			if r, _ := utf8.DecodeRuneInString(line[end:]); end < len(line) && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				add("malformed citation %s%s%c…", sect, id, r)
				prevEnd = -1
				continue
			}
			cited := true // a bare citation is one of docs/protocol.md
			chained := prevEnd >= 0 && chainRE.MatchString(line[prevEnd:start])
			switch {
			case chained:
				cited = prevCited
			default:
				before := line[:start]
				if strings.Trim(before, " \t/#*>-") == "" && i > 0 { // a comment or paragraph continued
					before = lines[i-1] + " "
				}
				switch d := otherDocRE.FindStringSubmatch(before); {
				case externalRE.MatchString(before):
					cited = false
				case d != nil:
					cited = d[1] == "docs/protocol" || strings.HasSuffix(d[1], "/docs/protocol")
				}
			}
			if cited {
				if !ref.sections[id] {
					add("cites %s%s, which docs/protocol.md does not define", sect, id)
				}
				if id == "0" {
					if n := itemRefRE.FindStringSubmatch(line[end:]); n != nil {
						k, _ := strconv.Atoi(n[1])
						if !ref.items[k] {
							add("cites %s0 item %d, which docs/protocol.md does not have", sect, k)
						}
					}
				}
				if chained && prevCited && rangeRE.MatchString(line[prevEnd:start]) && !ordered(prevID, id) {
					add("range %s%s–%s%s runs backwards", sect, prevID, sect, id)
				}
			}
			prevEnd, prevCited, prevID = end, cited, id
		}
	}
	return out
}

// ordered reports whether section a comes before section b (E.2 < E.8, A < E, E.1 < E.1b).
func ordered(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(strings.TrimRight(pa[i], "abcdefghijklmnopqrstuvwxyz"))
		nb, eb := strconv.Atoi(strings.TrimRight(pb[i], "abcdefghijklmnopqrstuvwxyz"))
		if ea == nil && eb == nil && na != nb {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) <= len(pb)
}

// TestCitationsResolve walks every .go and .md file of the repository (not .git, not
// node_modules) and fails, naming file:line, for each citation of a section docs/protocol.md does
// not define (ranges like §E.2–§E.8 and items like "§0 item 10" included) and for each remaining
// reference to browser.md or to a protocol.md that is not docs/protocol.md. Citations qualified by
// another specification ("RFC 6386 §9.1", "H.264 §7.3.2.1.1") are not checked.
func TestCitationsResolve(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ref := loadReference(t, filepath.Join(root, "docs", "protocol.md"))
	files, citations := 0, 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == ".git" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == filepath.Join("docs", "protocol_test.go") {
			return nil // its messages and patterns name the forbidden files; TestCheckerCatches covers it
		}
		files++
		citations += strings.Count(string(b), sect)
		for _, p := range ref.check(string(b)) {
			t.Errorf("%s:%d: %s", rel, p.line, p.msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || citations < 100 {
		t.Fatalf("walked %d files with %d section signs from %s: is this the repository?", files, citations, root)
	}
	t.Logf("%d files, %d section signs, %d sections defined", files, citations, len(ref.sections))
}

// TestCheckerCatches proves that the checker fails on what it must catch and passes what it must
// let through, so a silently broken checker cannot pass TestCitationsResolve.
func TestCheckerCatches(t *testing.T) {
	ref := reference{
		sections: map[string]bool{"0": true, "A": true, "A.1": true, "E": true, "E.1": true, "E.1b": true,
			"E.2": true, "E.8": true, "P.1": true},
		items: map[int]bool{1: true, 10: true},
	}
	s := func(ids ...string) string { // "§" + id, joined
		for i := range ids {
			ids[i] = sect + ids[i]
		}
		return strings.Join(ids, "")
	}
	cases := []struct {
		text string
		bad  int
	}{
		{"// see " + s("E.2") + " and " + s("A.1"), 0},
		{"// (docs/protocol.md " + s("E.2") + ", " + s("E.1b") + ")", 0},
		{"// " + s("E.2") + "–" + s("E.8") + " and " + s("A") + "–" + s("E"), 0},
		{"// " + s("0") + " item 10, " + s("0") + " rule 1", 0},
		{"// RFC 6386 " + s("9.1") + ", " + s("19.1") + "; ITU-T H.264 " + s("7.3.2.1.1"), 0},
		{"// following ITU-T H.264\n// " + s("7.3.2.1.1") + ", cropping applied", 0},
		{"// (docs/protocol.md\n// " + s("E.1") + ")", 0},
		{"// design.md \"Failure\", " + s("E.8"), 0},
		{"// see " + s("E.9"), 1},
		{"// " + s("E.2") + "–" + s("E.7"), 1},
		{"// " + s("E.8") + "–" + s("E.2"), 1},
		{"// " + s("0") + " item 5", 1},
		{"// " + s("Each"), 1},
		{"// protocol.md " + s("E.2"), 1},
		{"// /work/shared/protocol.md " + s("E.2"), 1},
		{"// (recipes/browser.md " + s("3") + ")", 1},
		{"// single handler per event (browser.md)", 1},
		{"// " + s("9.1"), 1},
	}
	for _, c := range cases {
		if got := ref.check(c.text); len(got) != c.bad {
			t.Errorf("%q: %d problems %v, want %d", c.text, len(got), got, c.bad)
		}
	}
}

// TestReferenceOnDisk checks that the parts existing citations and README depend on are there, so
// a rewrite of the document cannot drop one unnoticed even before anything cites it.
func TestReferenceOnDisk(t *testing.T) {
	ref := loadReference(t, "protocol.md")
	for _, id := range []string{"0", "1", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "P"} {
		if !ref.sections[id] {
			t.Errorf("docs/protocol.md lacks part %s%s", sect, id)
		}
	}
}
