package wcs

import "reflect"

var (
	boolType   = reflect.TypeFor[bool]()
	intType    = reflect.TypeFor[int64]()
	stringType = reflect.TypeFor[string]()
)
