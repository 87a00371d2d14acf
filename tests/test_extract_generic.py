"""Generic extraction on the failure classes of unseen pages: cut ends, the wrong block, leaks."""

from __future__ import annotations

from crawler.extract import SiteProfiles, extract

NONE = SiteProfiles()
URL = "https://example.org/2026/03/story"
P1 = "The festival opened on Friday with a parade through the old town, watched by thousands of visitors."
P2 = "Organisers said the programme this year was the largest since the event began two decades ago."
P3 = "Tickets for the closing concert sold out within an hour, and a second night has been added."


def _page(body: str, after: str = "") -> str:
    return (
        "<html><head><title>Festival opens</title></head><body><nav><a href='/'>Home</a>"
        f"<a href='/n'>News</a></nav><article><h1>Festival opens</h1>{body}</article>{after}</body></html>"
    )


def _text(html: str) -> list[str]:
    article = extract(html, URL, profiles=NONE)
    assert article.method == "generic"
    return article.text.split("\n")


def test_a_heading_and_list_after_the_last_paragraph_are_kept() -> None:
    lines = _text(_page(
        f"<p class='byline'>By A Writer</p><p>{P1}</p><p>{P2}</p><p>{P3}</p><h3>Tour dates</h3>"
        "<p>Leeds, 4 April<br>York, 6 April<br>Hull, 9 April<br>Derby, 12 April</p>"
    ))
    assert lines[-5:] == ["Tour dates", "Leeds, 4 April", "York, 6 April", "Hull, 9 April", "Derby, 12 April"]


def test_short_opening_lines_are_kept_but_bylines_and_dates_are_not() -> None:
    lines = _text(_page(
        "<div>By Jane Roe</div><div>March 9, 2026 10:45</div>"
        "<p><strong>What is new in version 2.6?</strong></p>"
        "<ul><li>New levels</li><li>Faster loading</li><li>Bugs fixed</li></ul>"
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p>"
    ))
    assert lines[:4] == ["What is new in version 2.6?", "New levels", "Faster loading", "Bugs fixed"]
    assert "By Jane Roe" not in lines and not any("2026" in line for line in lines)


def test_comma_ended_clauses_at_the_end_are_kept() -> None:
    lines = _text(_page(f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><p>第一，准备材料，</p>"))
    assert lines[-1] == "第一，准备材料，"


def test_the_footer_never_wins_on_a_short_brief() -> None:
    footer = (
        "<footer><div class='contact'><p>Contact the newsroom: write to us at the address below, "
        "call our desk during office hours, or use the form on our website to send a tip.</p>"
        "<p>Our offices are open from Monday to Friday, and our reporters answer every message "
        "that readers send, usually within two working days of receiving it.</p>"
        "<p>Advertising enquiries go to the sales team, who can be reached by telephone or by "
        "email at any time during the working week, and on Saturday mornings.</p></div></footer>"
    )
    brief = "<div class='brief'><p>The bridge reopened on Monday.</p><p>Repairs took six weeks.</p>" \
            "<p>Traffic is expected to return to normal by Friday.</p></div>"
    text = "\n".join(_text(_page(brief, footer)))
    assert "The bridge reopened on Monday." in text
    assert "newsroom" not in text and "sales team" not in text


def test_advert_labels_are_dropped_and_product_lines_kept() -> None:
    lines = _text(_page(
        f"<p>{P1}</p><p>Advert</p><p>{P2}</p>"
        "<p><a href='https://shop.example/x'>Get the festival guide on Amazon for $9.99</a></p>"
        f"<p>{P3}</p><p><a href='/other'>Another story entirely, about something else</a></p>"
    ))
    assert lines == [P1, P2, "Get the festival guide on Amazon for $9.99", P3]


def test_json_ld_body_escaped_twice_is_unescaped() -> None:
    body = "The mayor said &amp;quot;we are ready&amp;quot; and opened the gates. " * 6
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
        f'"articleBody": "{body}"}}</script></head><body><p>Teaser.</p></body></html>'
    )
    article = extract(html, URL, profiles=NONE)
    assert article.method == "json-ld"
    assert article.text.startswith('The mayor said "we are ready" and opened the gates.')
    assert "&quot;" not in article.text


def test_promos_and_the_company_boilerplate_of_a_press_release_are_dropped() -> None:
    more = [P1.replace("Friday", day) for day in ("Saturday", "Sunday", "Monday")]
    lines = _text(_page(
        f"<p>{P1}</p><p>Subscribe to our newsletter and never miss a festival story.</p>"
        f"<p>{P2}</p><p>{P3}</p>" + "".join(f"<p>{m}</p>" for m in more) +
        "<p>Follow us on Twitter and Facebook.</p><h3>About Festco</h3>"
        "<p>Festco is a leading provider of event services, with offices in twelve countries "
        "and more than two thousand employees.</p><p>For more information, visit festco.example.</p>"
    ))
    assert lines == [P1, P2, P3, *more]


def test_a_story_that_describes_a_company_keeps_it() -> None:
    first = "Festco is a leading provider of event services, and it ran the festival this year."
    last = "Festco is a family company that has run the parade since 1990."
    lines = _text(_page(f"<p>{first}</p><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{last}</p>"))
    assert lines == [first, P1, P2, P3, last]


def test_an_embedded_post_quoted_in_the_story_is_kept() -> None:
    tweet = "The parade is the best it has been in years, said one visitor"
    lines = _text(_page(
        f"<p>{P1}</p><p>{P2}</p><div class='social-media-embed'><blockquote class='twitter-tweet'>"
        f"<p>{tweet}</p></blockquote></div><p>{P3}</p>"
        "<div class='social-share'><a href='#'>Share on Facebook</a></div>"
    ))
    assert lines == [P1, P2, tweet, P3]


def test_a_page_whose_wrappers_mention_a_footer_is_not_dropped() -> None:
    html = (
        "<html><body class='page has-footer'><div class='layout with-footer'><article>"
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p></article></div>"
        "<div class='site-footer'><p>Copyright and contact details of the festival office.</p></div>"
        "</body></html>"
    )
    assert _text(html) == [P1, P2, P3]


def test_a_sentence_that_runs_through_a_link_is_kept() -> None:
    lines = _text(_page(
        f"<p>{P1}</p><p>The mayor, who opened the parade, was <a href='/mayor'>re-elected to a third "
        f"term last spring by a wide margin over her rival</a>.</p><p>{P2}</p><p>Read more: <a href='/x'>Last year's festival in "
        f"pictures and video</a>.</p><p>{P3}</p>"
    ))
    assert lines[1] == (
        "The mayor, who opened the parade, was re-elected to a third term last spring by a wide "
        "margin over her rival."
    )
    assert not any(line.startswith("Read more") for line in lines)


def test_product_lines_in_a_list_and_link_lines_in_a_run_are_kept() -> None:
    lines = _text(_page(
        f"<p>{P1}</p><p>{P2}</p><ul><li><a href='https://shop.example/a'>Get it at Walmart for "
        "$238.99</a></li><li><a href='https://shop.example/b'>Get it on Amazon for $49</a></li></ul>"
        f"<p>{P3}</p><p>1) A board game<br><a href='https://shop.example/c'>https://shop.example/c</a>"
        "<br>2) A puzzle<br><a href='https://shop.example/d'>https://shop.example/d</a></p>",
        after="<ul class='more'><li><a href='/a'>Another story</a></li><li><a href='/b'>And one "
        "more</a></li></ul>",
    ))
    assert lines == [
        P1, P2, "Get it at Walmart for $238.99", "Get it on Amazon for $49", P3, "1) A board game",
        "https://shop.example/c", "2) A puzzle", "https://shop.example/d",
    ]


def test_a_recipe_card_inside_the_article_is_kept_but_a_promo_card_is_not() -> None:
    steps = "".join(
        f"<li>Step {i}: stir the pot slowly over a low heat for a few more minutes.</li>" for i in range(4)
    )
    lines = _text(_page(
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p>" * 3 + "<section class='recipe-card'><h3>Ingredients</h3>"
        f"<ul><li>8 ripe pears</li><li>1 lemon</li><li>1 tsp cinnamon</li></ul><ol>{steps}</ol></section>"
        "<div class='promo-card'><p>Get our newsletter every morning, free of charge.</p></div>"
    ))
    assert lines[9:14] == [
        "Ingredients", "8 ripe pears", "1 lemon", "1 tsp cinnamon",
        "Step 0: stir the pot slowly over a low heat for a few more minutes.",
    ]
    assert not any("newsletter" in line for line in lines)


def test_a_numbered_product_list_split_over_paragraphs_is_kept_to_its_end() -> None:
    first = "".join(
        f"{i}) Board game {i}<br><a href='https://shop.example/{i}'>https://shop.example/{i}</a><br>"
        for i in range(1, 4)
    )
    lines = _text(_page(
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{first}</p><p><a href='https://shop.example/4'>"
        "https://shop.example/4</a><br>5) Board game 5<br><a href='https://shop.example/5'>"
        "https://shop.example/5</a></p>"
    ))
    assert lines[-3:] == ["https://shop.example/4", "5) Board game 5", "https://shop.example/5"]


def test_a_ticker_of_teasers_inside_the_container_is_dropped() -> None:
    ticker = "".join(
        f"<li><a href='/s{i}'>Other headline {i}</a> <span>CITY: Another story begins here and "
        "runs on for a while before it is cut...</span></li>" for i in range(3)
    )
    lines = _text(
        "<html><body><div class='wrap'><div class='ticker'><ul>" + ticker + "</ul></div>"
        f"<div class='story'><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>She said: “we will be back...</p>"
        "</div></div></body></html>"
    )
    assert lines == [P1, P2, P3, "She said: “we will be back..."]


def test_short_paragraph_lines_side_by_side_at_the_end_are_kept() -> None:
    lines = _text(_page(
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><p>Tickets</p><p>Stalls: 40 euros</p><p>Circle: 30 euros</p>"
        "<p>Gallery: 20 euros</p>"
    ))
    assert lines[3:] == ["Tickets", "Stalls: 40 euros", "Circle: 30 euros", "Gallery: 20 euros"]


def test_one_or_two_short_lines_after_the_story_still_go() -> None:
    lines = _text(_page(f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><p>Festival desk</p><p>Tags</p>"))
    assert lines == [P1, P2, P3]


TEASE = ("Officials in both capitals said the two envoys held quiet talks abroad last week, "
         "the first such contact in months.")


def _cards(n: int, item: str) -> str:
    return "".join(item.format(i=i, tease=f"{TEASE} ({i})") for i in range(n))


def test_teaser_cards_beside_the_story_are_dropped_without_class_words() -> None:
    """A linked headline over an unlinked teaser, two or more side by side, is a box of
    other stories however its markup is named: the story's column must not take it in."""
    box = _cards(3, "<div class='it'><a href='/a{i}'>Envoys met in secret, officials say {i}</a>"
                    "<div class='ds'>{tease}</div></div>")
    lines = _text(
        "<html><body><div class='row'><div class='c8'><h1>Festival opens</h1>"
        f"<div class='txt'><p>{P1}</p><p>{P2}</p><p>{P3}</p></div>"
        f"<div class='blk'><div class='bh'>More on this</div>{box}</div></div>"
        f"<div class='c4'><div class='blk'><div class='bh'>Most read</div>{box}</div></div></div></body></html>"
    )
    assert lines == [P1, P2, P3]


def test_teaser_cards_in_table_cells_are_dropped() -> None:
    rows = _cards(2, "<tr><td><a href='/{i}.htm'>Envoys met in secret, officials say {i}</a><br>"
                     "<font size='1'>{tease}</font></td></tr>")
    lines = _text(
        "<html><body><table><tr><td valign='top'><h1>Festival opens</h1>"
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><table><tr><td><b>More on this story</b></td></tr>{rows}</table>"
        "</td></tr></table></body></html>"
    )
    assert lines == [P1, P2, P3]


def test_a_long_list_of_teaser_cards_does_not_outweigh_a_short_story() -> None:
    items = _cards(4, "<li><a href='/t{i}'><span>Envoys met in secret, officials say {i}</span></a>"
                      "<p>{tease}</p></li>")
    lines = _text(_page(f"<p>{P1}</p><p>{P2}</p>",
                        f"<section class='amp-related'><h2>Trending now</h2><ul>{items}</ul></section>"))
    assert lines == [P1, P2]


MORE = [f"Paragraph {n} of the story goes on about the parade and the crowds that came to see it." for n in range(12)]


def test_an_article_split_around_an_inline_ad_is_kept_whole() -> None:
    body = "".join(f"<p>{m}</p>" for m in MORE)
    html = (
        "<html><body><div class='story-wrap'><div class='share-tools'><a href='#'>Share</a>"
        "<a href='#'>Tweet</a><a href='#'>Email</a><a href='#'>Print this page</a></div>"
        f"<div class='article-body'>{body}</div><div class='ad-slot'>Advertisement</div>"
        f"<div class='article-body'><p>{P3}</p></div></div></body></html>"
    )
    assert _text(html) == [*MORE, P3]


def test_the_other_part_of_a_weakly_hinted_container_shares_its_verdict() -> None:
    body = "".join(f"<p>{m}</p>" for m in MORE)
    html = (
        f"<html><body><main><div class='widget-area'>{body}</div><div class='ad-slot'>Advertisement</div>"
        f"<div class='widget-area'><p>{P1}</p><p>{P2}</p></div></main>"
        "<div class='widget-links'><a href='/a'>Weather</a></div></body></html>"
    )
    assert _text(html) == [*MORE, P1, P2]


def test_two_paragraphs_in_a_sibling_carry_the_story_on_but_a_lone_bio_does_not() -> None:
    body = "".join(f"<p>{m}</p>" for m in MORE * 2)  # too large a part for the rest to climb
    bio = "Jo Writer is a reporter who has covered the festival for the paper since the year 2001."
    html = (
        f"<html><body><main><div class='a'>{body}</div><figure><img src='x.jpg'></figure>"
        f"<div class='b'><p>{P1}</p><p>{P2}</p></div><div class='c'><p>{bio}</p></div>"
        "</main></body></html>"
    )
    assert _text(html) == [*MORE, *MORE, P1, P2]


def test_a_paragraph_set_straight_in_the_containers_parent_is_kept() -> None:
    loose = "A loose opening paragraph set straight in the wrapper, with no element of its own around it."
    body = "".join(f"<p>{m}</p>" for m in MORE * 2)
    html = (
        f"<html><body><div class='post'><div class='byline'>By Jo Writer</div>{loose}"
        f"<div class='text'>{body}</div><div class='tags'><a href='/t'>Parades</a></div>"
        "</div></body></html>"
    )
    assert _text(html) == [loose, *MORE, *MORE]
