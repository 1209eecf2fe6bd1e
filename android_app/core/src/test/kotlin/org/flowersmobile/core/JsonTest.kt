package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class JsonTest {

    private fun fails(text: String) {
        try {
            Json.parse(text)
            fail("parsed invalid JSON: $text")
        } catch (e: JsonParseException) {
            assertTrue(e.message!!.contains("at character"))
        }
    }

    @Test
    fun parsesScalars() {
        assertEquals(true, Json.parse("true"))
        assertEquals(false, Json.parse(" false "))
        assertNull(Json.parse("null"))
        assertEquals(42L, Json.parse("42"))
        assertEquals(-7L, Json.parse("-7"))
        assertEquals(1.5, Json.parse("1.5"))
        assertEquals(-2.5e-3, Json.parse("-2.5E-3"))
        assertEquals(1.0e3, Json.parse("1e3"))
        assertEquals(0L, Json.parse("0"))
    }

    @Test
    fun hugeIntegersBecomeDoubles() {
        assertEquals(1e20, Json.parse("100000000000000000000"))
    }

    @Test
    fun parsesNestedStructuresInOrder() {
        val v = Json.parse("""{"b": [1, 2, {"c": null}], "a": {"x": "y"}, "e": []}""") as Map<*, *>
        assertEquals(listOf("b", "a", "e"), v.keys.toList())
        val b = v["b"] as List<*>
        assertEquals(3, b.size)
        assertEquals(2L, b[1])
        assertTrue((b[2] as Map<*, *>).containsKey("c"))
        assertEquals(emptyList<Any?>(), v["e"])
        assertEquals(emptyMap<String, Any?>(), Json.parse("{ }"))
    }

    @Test
    fun decodesEscapesAndUnicode() {
        assertEquals("a\"b\\c/d\b\u000C\n\r\t", Json.parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""))
        assertEquals("é", Json.parse("\"\\u00e9\""))
        // A surrogate pair (U+1F338 cherry blossom) and raw non-ASCII text.
        assertEquals("\uD83C\uDF38 rosé", Json.parse("\"\\ud83c\\udf38 rosé\""))
    }

    @Test
    fun rejectsMalformedInput() {
        fails("")
        fails("{")
        fails("[1, 2")
        fails("[1, 2,]")
        fails("{\"a\": 1,}")
        fails("{a: 1}")
        fails("{\"a\" 1}")
        fails("\"unterminated")
        fails("\"bad \\x escape\"")
        fails("\"\\u12G4\"")
        fails("01")
        fails("1.")
        fails("-")
        fails("1e")
        fails("tru")
        fails("nul")
        fails("[1] 2")
        fails("\"tab\tinside\"")
        fails("{\"a\": 1, \"a\": 2}")
    }

    @Test
    fun errorNamesThePosition() {
        try {
            Json.parse("[1, 2, x]")
            fail()
        } catch (e: JsonParseException) {
            assertEquals(7, e.offset)
        }
    }

    @Test
    fun rejectsExcessiveNesting() {
        val deep = "[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2)
        fails(deep)
        val ok = "[".repeat(50) + "]".repeat(50)
        assertTrue(Json.parse(ok) is List<*>)
    }
}
