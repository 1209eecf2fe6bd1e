package org.flowersmobile.core

/** Malformed JSON; [offset] is the character index where the parser gave up. */
class JsonParseException(message: String, val offset: Int) :
    IllegalArgumentException("$message at character $offset")

/**
 * A small strict JSON (RFC 8259) parser: the pure-Kotlin module cannot use org.json (an Android
 * class) or any library.
 *
 * Values map to: object -> `Map<String, Any?>` (insertion order kept), array -> `List<Any?>`,
 * string -> `String`, integer -> `Long` (or `Double` when out of range), other numbers ->
 * `Double`, `true`/`false` -> `Boolean`, `null` -> `null`.
 */
object Json {

    /** Deepest nesting accepted; guards the recursive parser's stack against hostile input. */
    const val MAX_DEPTH = 256

    /** Parse one JSON value that spans the whole of [text] (whitespace around it is allowed). */
    fun parse(text: String): Any? {
        val parser = Parser(text)
        parser.skipWhitespace()
        val value = parser.readValue(0)
        parser.skipWhitespace()
        if (!parser.atEnd()) throw parser.error("unexpected '${parser.peek()}' after the JSON value")
        return value
    }

    private class Parser(private val s: String) {
        private var pos = 0

        fun atEnd(): Boolean = pos >= s.length

        fun peek(): Char = s[pos]

        fun error(message: String): JsonParseException = JsonParseException(message, pos)

        fun skipWhitespace() {
            while (pos < s.length) {
                val c = s[pos]
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++ else return
            }
        }

        fun readValue(depth: Int): Any? {
            if (depth > MAX_DEPTH) throw error("nesting deeper than $MAX_DEPTH")
            if (atEnd()) throw error("unexpected end of input")
            val c = s[pos]
            return when {
                c == '{' -> readObject(depth)
                c == '[' -> readArray(depth)
                c == '"' -> readString()
                c == '-' || (c in '0'..'9') -> readNumber()
                c == 't' -> readLiteral("true", true)
                c == 'f' -> readLiteral("false", false)
                c == 'n' -> readLiteral("null", null)
                else -> throw error("unexpected '$c'")
            }
        }

        private fun readLiteral(word: String, value: Any?): Any? {
            if (!s.startsWith(word, pos)) throw error("expected '$word'")
            pos += word.length
            return value
        }

        private fun expect(c: Char) {
            if (atEnd() || s[pos] != c) {
                throw error(if (atEnd()) "expected '$c' but the input ended" else "expected '$c' but found '${s[pos]}'")
            }
            pos++
        }

        private fun readObject(depth: Int): Map<String, Any?> {
            expect('{')
            val out = LinkedHashMap<String, Any?>()
            skipWhitespace()
            if (!atEnd() && s[pos] == '}') {
                pos++
                return out
            }
            while (true) {
                skipWhitespace()
                if (atEnd() || s[pos] != '"') throw error("expected a string key")
                val key = readString()
                if (out.containsKey(key)) throw error("duplicate key \"$key\"")
                skipWhitespace()
                expect(':')
                skipWhitespace()
                out[key] = readValue(depth + 1)
                skipWhitespace()
                if (atEnd()) throw error("unterminated object")
                val c = s[pos++]
                if (c == '}') return out
                if (c != ',') {
                    pos--
                    throw error("expected ',' or '}' but found '$c'")
                }
            }
        }

        private fun readArray(depth: Int): List<Any?> {
            expect('[')
            val out = ArrayList<Any?>()
            skipWhitespace()
            if (!atEnd() && s[pos] == ']') {
                pos++
                return out
            }
            while (true) {
                skipWhitespace()
                out.add(readValue(depth + 1))
                skipWhitespace()
                if (atEnd()) throw error("unterminated array")
                val c = s[pos++]
                if (c == ']') return out
                if (c != ',') {
                    pos--
                    throw error("expected ',' or ']' but found '$c'")
                }
            }
        }

        private fun readString(): String {
            expect('"')
            val sb = StringBuilder()
            while (true) {
                if (atEnd()) throw error("unterminated string")
                val c = s[pos++]
                when {
                    c == '"' -> return sb.toString()
                    c == '\\' -> readEscape(sb)
                    c < ' ' -> {
                        pos--
                        throw error("control character in string")
                    }
                    else -> sb.append(c)
                }
            }
        }

        private fun readEscape(sb: StringBuilder) {
            if (atEnd()) throw error("unterminated escape")
            when (val e = s[pos++]) {
                '"' -> sb.append('"')
                '\\' -> sb.append('\\')
                '/' -> sb.append('/')
                'b' -> sb.append('\b')
                'f' -> sb.append('\u000C')
                'n' -> sb.append('\n')
                'r' -> sb.append('\r')
                't' -> sb.append('\t')
                // Surrogate pairs arrive as two \u escapes; appending both code units rebuilds them.
                'u' -> sb.append(readHex4().toChar())
                else -> {
                    pos--
                    throw error("unknown escape '\\$e'")
                }
            }
        }

        private fun readHex4(): Int {
            if (pos + 4 > s.length) throw error("incomplete \\u escape")
            var v = 0
            for (i in 0 until 4) {
                val d = Character.digit(s[pos + i], 16)
                if (d < 0) {
                    pos += i
                    throw error("bad hex digit in \\u escape")
                }
                v = v * 16 + d
            }
            pos += 4
            return v
        }

        private fun readNumber(): Any {
            val start = pos
            if (s[pos] == '-') pos++
            if (atEnd()) throw error("incomplete number")
            if (s[pos] == '0') {
                pos++
            } else if (s[pos] in '1'..'9') {
                while (!atEnd() && s[pos] in '0'..'9') pos++
            } else {
                throw error("expected a digit")
            }
            var integral = true
            if (!atEnd() && s[pos] == '.') {
                integral = false
                pos++
                if (atEnd() || s[pos] !in '0'..'9') throw error("expected a digit after '.'")
                while (!atEnd() && s[pos] in '0'..'9') pos++
            }
            if (!atEnd() && (s[pos] == 'e' || s[pos] == 'E')) {
                integral = false
                pos++
                if (!atEnd() && (s[pos] == '+' || s[pos] == '-')) pos++
                if (atEnd() || s[pos] !in '0'..'9') throw error("expected a digit in the exponent")
                while (!atEnd() && s[pos] in '0'..'9') pos++
            }
            val token = s.substring(start, pos)
            if (integral) {
                val asLong = token.toLongOrNull()
                if (asLong != null) return asLong
            }
            return token.toDouble()
        }
    }
}
