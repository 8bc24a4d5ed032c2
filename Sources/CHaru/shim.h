#include <hpdf.h>
#include <hpdf_font.h>
#include <hpdf_fontdef.h>
#include <hpdf_streams.h>
#include <stdio.h>

/// Marks glyph `gid` as used, and, if it is a composite glyph, every glyph it is built from
/// (recursively, at most 8 levels deep), so that libharu's subset of the font keeps them.
///
/// libharu 2.3's own check misses components in UTF-8 mode: "ї", "Ё", "ï", "й" (a base letter
/// plus an accent in DejaVu Sans) printed as the accent alone while the text map still read them
/// back correctly. Composite glyph data (OpenType `glyf`): int16 numberOfContours (< 0 for a
/// composite), a 4 × int16 box, then components of uint16 flags, uint16 glyphIndex, two
/// arguments (bytes or words) and an optional scale, while flags has MORE_COMPONENTS.
static inline HPDF_STATUS billing_hpdf_mark_glyph(HPDF_TTFontDefAttr attributes, HPDF_UINT16 gid, int depth) {
    if (gid >= attributes->num_glyphs) {
        return HPDF_OK;
    }
    attributes->glyph_tbl.flgs[gid] = 1;
    HPDF_UINT32 start = attributes->glyph_tbl.offsets[gid];
    HPDF_UINT32 end = attributes->glyph_tbl.offsets[gid + 1];
    if (attributes->header.index_to_loc_format == 0) {
        start *= 2;
        end *= 2;
    }
    if (depth >= 8 || end < start + 10) {
        return HPDF_OK;  // an empty glyph (a space) has no data
    }
    HPDF_UINT32 position = attributes->glyph_tbl.base_offset + start;
    HPDF_BYTE header[10];
    HPDF_UINT size = sizeof header;
    HPDF_STATUS status = HPDF_Stream_Seek(attributes->stream, (HPDF_INT)position, HPDF_SEEK_SET);
    if (status == HPDF_OK) status = HPDF_Stream_Read(attributes->stream, header, &size);
    if (status != HPDF_OK) return status;
    if ((HPDF_INT16)((header[0] << 8) | header[1]) >= 0) {
        return HPDF_OK;  // a simple glyph
    }
    const HPDF_UINT16 argumentsAreWords = 0x0001, haveScale = 0x0008, moreComponents = 0x0020,
                      haveXAndYScale = 0x0040, haveTwoByTwo = 0x0080;
    position += 10;
    HPDF_UINT16 flags;
    do {
        if (position + 4 > attributes->glyph_tbl.base_offset + end) {
            return HPDF_OK;  // a malformed glyph: keep what was marked
        }
        HPDF_BYTE component[4];
        size = sizeof component;
        status = HPDF_Stream_Seek(attributes->stream, (HPDF_INT)position, HPDF_SEEK_SET);
        if (status == HPDF_OK) status = HPDF_Stream_Read(attributes->stream, component, &size);
        if (status != HPDF_OK) return status;
        flags = (HPDF_UINT16)((component[0] << 8) | component[1]);
        HPDF_UINT16 componentGid = (HPDF_UINT16)((component[2] << 8) | component[3]);
        position += 4 + ((flags & argumentsAreWords) ? 4 : 2);
        if (flags & haveScale) position += 2;
        else if (flags & haveXAndYScale) position += 4;
        else if (flags & haveTwoByTwo) position += 8;
        status = billing_hpdf_mark_glyph(attributes, componentGid, depth + 1);
        if (status != HPDF_OK) return status;
    } while (flags & moreComponents);
    return HPDF_OK;
}

/// Whether the TrueType font behind `font` (loaded with HPDF_LoadTTFontFromFile and taken with
/// HPDF_GetFont(..., "UTF-8")) has a glyph for `code`; if it has, the glyph and its components
/// are marked for embedding. libharu itself would print glyph 0 (an empty box) for a missing
/// character while its text map still names the character, so a reader would copy text that was
/// never visibly printed; the renderer asks first instead. Returns 1 or 0.
static inline int billing_hpdf_font_use_glyph(HPDF_Font font, HPDF_UINT16 code) {
    if (font == NULL || font->attr == NULL) {
        return 0;
    }
    HPDF_FontAttr attributes = (HPDF_FontAttr)font->attr;
    if (attributes->fontdef == NULL || attributes->fontdef->type != HPDF_FONTDEF_TYPE_TRUETYPE) {
        return 0;
    }
    HPDF_UINT16 gid = HPDF_TTFontDef_GetGlyphid(attributes->fontdef, code);
    if (gid == 0) {
        return 0;
    }
    return billing_hpdf_mark_glyph((HPDF_TTFontDefAttr)attributes->fontdef->attr, gid, 0) == HPDF_OK;
}

/// Replaces the ToUnicode map of a UTF-8 font from HPDF_GetFont(..., "UTF-8") with a correct one.
///
/// In UTF-8 mode libharu 2.3 writes each character's code as its 2-byte CID (the UTF-16 code unit),
/// so the right ToUnicode map is the identity on the Basic Multilingual Plane. libharu 2.3 writes a
/// copy of its encoding CMap there instead (a `begincidrange`, which is not allowed in a ToUnicode
/// map); poppler complains about it and other readers may copy wrong text. This map uses
/// `bfrange`s that each vary only the last byte, as the PDF specification asks, and skips the
/// surrogates. Call it before drawing; returns HPDF_OK or libharu's error.
static inline HPDF_STATUS billing_hpdf_font_write_identity_to_unicode(HPDF_Font font) {
    if (font == NULL || font->attr == NULL) {
        return HPDF_INVALID_FONT;
    }
    HPDF_FontAttr attributes = (HPDF_FontAttr)font->attr;
    HPDF_Dict map = attributes->cmap_stream;
    if (map == NULL || map->stream == NULL || HPDF_Dict_GetItem(font, "ToUnicode", HPDF_OCLASS_DICT) != map) {
        return HPDF_INVALID_FONT;
    }
    HPDF_MemStream_FreeData(map->stream);
    HPDF_STATUS status = HPDF_Stream_WriteStr(map->stream,
        "/CIDInit /ProcSet findresource begin\n"
        "12 dict begin\n"
        "begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n"
        "/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
    // 248 ranges (high bytes 00-FF without the surrogates D8-DF), at most 100 to a block.
    int highBytes[248];
    int count = 0;
    for (int high = 0; high <= 0xFF; high++) {
        if (high < 0xD8 || high > 0xDF) {
            highBytes[count++] = high;
        }
    }
    char line[64];
    for (int start = 0; start < count && status == HPDF_OK; start += 100) {
        int blockSize = count - start < 100 ? count - start : 100;
        snprintf(line, sizeof line, "%d beginbfrange\n", blockSize);
        status = HPDF_Stream_WriteStr(map->stream, line);
        for (int index = start; index < start + blockSize && status == HPDF_OK; index++) {
            snprintf(line, sizeof line, "<%02X00> <%02XFF> <%02X00>\n", highBytes[index], highBytes[index], highBytes[index]);
            status = HPDF_Stream_WriteStr(map->stream, line);
        }
        if (status == HPDF_OK) {
            status = HPDF_Stream_WriteStr(map->stream, "endbfrange\n");
        }
    }
    if (status == HPDF_OK) {
        status = HPDF_Stream_WriteStr(map->stream,
            "endcmap\n"
            "CMapName currentdict /CMap defineresource pop\n"
            "end\n"
            "end\n");
    }
    return status;
}
