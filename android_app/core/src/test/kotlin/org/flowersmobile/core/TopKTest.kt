package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class TopKTest {

    private val labels = listOf("daisy", "rose", "tulip", "iris")

    @Test
    fun picksHighestScoresBestFirst() {
        val top = TopK.fromScores(floatArrayOf(0.1f, 0.6f, 0.05f, 0.25f), labels, 3)
        assertEquals(listOf("rose", "iris", "daisy"), top.map { it.label })
        assertEquals(0.6f, top[0].score, 0f)
    }

    @Test
    fun kLargerThanClassesKeepsAll() {
        assertEquals(4, TopK.fromScores(floatArrayOf(0.1f, 0.2f, 0.3f, 0.4f), labels, 10).size)
    }

    @Test
    fun kZeroAndEmptyGiveNothing() {
        assertTrue(TopK.fromScores(floatArrayOf(0.1f, 0.2f, 0.3f, 0.4f), labels, 0).isEmpty())
        assertTrue(TopK.of(emptyList(), 3).isEmpty())
    }

    @Test
    fun tiesKeepInputOrder() {
        val top = TopK.of(listOf(Category("a", 0.5f), Category("b", 0.5f), Category("c", 0.1f)), 2)
        assertEquals(listOf("a", "b"), top.map { it.label })
    }

    @Test
    fun nanRanksLast() {
        val top = TopK.fromScores(floatArrayOf(Float.NaN, 0.2f, 0.1f, 0.0f), labels, 4)
        assertEquals("rose", top[0].label)
        assertEquals("daisy", top[3].label)
    }

    @Test(expected = IllegalArgumentException::class)
    fun scoresAndLabelsMustAgree() {
        TopK.fromScores(floatArrayOf(0.5f, 0.5f), labels, 1)
    }

    @Test(expected = IllegalArgumentException::class)
    fun negativeKIsRejected() {
        TopK.of(listOf(Category("a", 1f)), -1)
    }
}
