package org.flowersmobile.core

import java.io.InputStream
import java.security.MessageDigest

/** sha256 hex digests, as written in manifest.json. */
object Sha256 {

    fun hex(bytes: ByteArray): String = toHex(MessageDigest.getInstance("SHA-256").digest(bytes))

    /** Digest of everything left in [input]; the stream is read to the end but not closed. */
    fun hex(input: InputStream): String {
        val digest = MessageDigest.getInstance("SHA-256")
        val buffer = ByteArray(64 * 1024)
        while (true) {
            val n = input.read(buffer)
            if (n < 0) break
            digest.update(buffer, 0, n)
        }
        return toHex(digest.digest())
    }

    private const val HEX = "0123456789abcdef"

    private fun toHex(raw: ByteArray): String {
        val sb = StringBuilder(raw.size * 2)
        for (b in raw) {
            val v = b.toInt() and 0xff
            sb.append(HEX[v ushr 4]).append(HEX[v and 0x0f])
        }
        return sb.toString()
    }
}
