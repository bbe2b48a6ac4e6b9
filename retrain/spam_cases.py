"""Written cases: legitimate look-alikes of SMS spam, and the social-media spam genres the
spam sources lack.

**Legitimate look-alikes** (``spam_lookalikes_en``, label 0): ordinary posts with everything
SMS spam is made of.

SMS spam is made of phone numbers, sums of money, "call", "text", "win", "free", "claim",
"congratulations" and links, and the legitimate speech in ``../shared/data`` rarely has any
of them (71 of 199,468 rows hold a phone number, and some of those are spam). Trained on that,
a model learns that a phone number plus a sum of money *is* spam, and scores "In 2010 the
government cut funding by £2.5bn. Call your MP on 020 7219 3000" 0.997. These cases are the
counter-examples: civic campaigns, lost pets, crisis lines, shop hours, anti-scam warnings,
prizes won at school, written as templates and filled from slot lists (English only, as are
the spam sources).

**Written spam** (``spam_written_en``, label 1): the genres of comment and social spam that
SMS (prizes, premium numbers) and ScamSpot (crypto "investment" on Instagram) do not cover:
channel and music self-promotion ("check out my channel, please subscribe"),
follow-for-follow, fake followers and likes, gift-card and game-currency giveaways,
work-from-home income, dating bait, phishing ("your account is suspended, verify at"),
SEO spam (essays, pills, replicas).

Both are split by *template* (a CRC32 of the template picks train 60 % / dev 20 % / test
20 %), so the test rows are phrasings the model never saw, not new fills of familiar ones;
the card reports them as their own sources beside the real corpora.
"""

from __future__ import annotations

import itertools
import random
import string
import zlib

from retrain.spam_data import SpamRow, Split

SOURCE = "spam_lookalikes_en"
SPAM_SOURCE = "spam_written_en"
PER_TEMPLATE = 14

TEMPLATES: tuple[str, ...] = (
    # Civic and political speech.
    "In {year} the government cut funding by {money}. Call your MP on {phone} and tell them "
    "what you think #{tag}",
    "Please write to your councillor about the {thing} closure. Their office number is {phone}.",
    "The {place} council wants to spend {money} on a new car park instead of the library. "
    "Public meeting Thursday 7pm.",
    "Vote on {day}! Polling stations are open 7am to 10pm. Find yours at {url}",
    "Petition to save {place} hospital has {n} signatures, we need more by Friday: {url}",
    "Budget day: {money} for schools and {money2} for the NHS. Full breakdown: {url}",
    # Community.
    "LOST DOG in {place}! Brown terrier called {pet}, very friendly. Reward offered. Please "
    "call {phone}",
    "Found a wallet near {place} station this morning. Call {phone} to describe it and it's yours.",
    "Our bake sale raised {money} for {charity}! Thank you to everyone who came 💛",
    "Congratulations to {name} who won the {event} prize at {place} school this year! 🏆",
    "Congratulations {team}! Champions again, what a season #{tag}",
    "Free entry for kids at the {place} summer fair this Saturday, adults {money}. Info: {phone}",
    "The {place} food bank needs volunteers this weekend. Text {name} on {phone} if you can help.",
    # First-party notices.
    "Our shop on {place} Street is open again from Monday, 9am to 5pm. Call {phone} to book.",
    "We are hiring! Part-time barista at the {place} café, {money} an hour. Apply in store.",
    "Sorry for the delay with orders this week, our courier had problems. Questions? Call us "
    "on {phone}",
    # Support and crisis lines.
    "If you are struggling tonight please call Samaritans free on 116 123, any time, day or night.",
    "You can text SHOUT to 85258 for free, confidential support 24/7. You are not alone, {name}.",
    "National Suicide Prevention Lifeline: 1-800-273-8255. Please share, it might save a life "
    "#{tag}",
    "The domestic abuse helpline is free and open 24 hours: {phone}. Stay safe.",
    # News, prices and warnings.
    "Petrol is now {money} a litre in {place}. How is anyone supposed to afford this?",
    "Man from {place} wins {money} on the lottery and gives half to the local hospice",
    "Tickets for the {team} game went up to {money}. Football is pricing out real fans #{tag}",
    "Reminder: the tax deadline is 31 January. The helpline is {phone}, expect long waits.",
    "Scam warning: nobody from the bank will ever ask for your PIN. If in doubt hang up and "
    "call {phone}.",
    "My mum got a text saying she won {money}. It's a scam, don't reply and don't click the link!",
    # Personal.
    "New number, old phone died. Text me on {phone} x",
    "Just won {money} at the pub quiz with {name}, drinks are on us tonight 🍻",
    "Happy birthday {name}!!! Call me later, I'll be home after 8 🎉",
    "I got a {money} parking fine for stopping 2 minutes outside the pharmacy. Unbelievable.",
    "Can anyone recommend a plumber in {place}? Called {phone} and nobody picked up",
    "Our wedding photos are finally up! {url} Thank you all for an amazing day ❤️",
    # Events and links.
    "Slides from my talk on {topic} are here: {url} Thanks to everyone who came!",
    "Registration for the {place} half marathon closes Friday, entry {money}, all proceeds to "
    "{charity}: {url}",
    "Read the full report on {topic} here: {url} (pdf, 40 pages)",
    "Claim your free flu jab at any pharmacy if you are over 65. Details: {url}",
    "Winner winner chicken dinner 🍗 {team} take the cup!",
    "URGENT: road closed on {place} Road after a crash, avoid the area. Updates at {url}",
    "Apply now for the {place} community grant, up to {money} for local projects. "
    "Deadline 1 March: {url}",
    "Text HELP to 61016 for free advice on housing and benefits in {place}.",
    # Sharing links: what ordinary people post with a link in it.
    "Great piece by {name} on {topic}, worth reading: {url}",
    "Just published a new blog post about {topic} {url}",
    "Check out this article about {topic}, it explains it really well {url}",
    "New episode of our podcast is out! We talk about {topic} with {name} {url}",
    "Watch the full highlights of {team} last night here {url} {emoji}",
    "My daughter's school play was amazing, video here {url} ❤️",
    "Photos from the {place} street party are up, tag yourselves! {url}",
    "Subscribe to our newsletter for updates on the {place} park project: {url}",
    "Here is the recipe I promised, {name}: {url} enjoy! {emoji}",
    "BREAKING: {place} council approves {money} budget for {topic}. More at {url}",
)

SPAM_TEMPLATES: tuple[str, ...] = (
    # Self-promotion.
    "Check out my channel!! I post {genre} videos every week, please subscribe {link}",
    "hey guys please check out my new {genre} video and subscribe, it would mean a lot {emoji}",
    "Subscribe to my channel and I will subscribe back!! {link}",
    "I just uploaded a cover of this song, go listen on my channel {link} {emoji}",
    "Anyone who likes {genre} should check out my page, link in bio {emoji}",
    "Follow me on instagram @{handle} I follow back everyone {emoji}",
    "follow for follow?? #f4f #followback #{handle}",
    "Please visit my website {link} and leave a comment, thanks!!",
    # Fake followers, likes, reviews.
    "Get {count} real followers for only {price}! Fast delivery, visit {link}",
    "Buy cheap likes and views, {count} likes for {price}. DM @{handle} now",
    "Need 5 star reviews for your business? We write them, {price} each. WhatsApp {phone}",
    # Giveaways and free stuff.
    "FREE {prize} giveaway!!! Click here to claim yours before they run out: {link}",
    "I got {count} free {currency} using this generator, it actually works {link}",
    "Congrats! You have been selected to receive a {prize}. Confirm your details at {link}",
    "First 100 people to comment get a free {prize}, then DM @{handle} {emoji}",
    # Income and investment.
    "Earn {price} a day working from home, no experience needed!!! Visit {link}",
    "I quit my job and now make {price} a week online, ask me how. DM @{handle}",
    "My account manager @{handle} helped me turn {price} into {price2} in one week, contact "
    "her now",
    "Want passive income? Join my team, message me on WhatsApp {phone} {emoji}",
    # Dating bait.
    "hot singles in your area are waiting, check my profile {emoji}",
    "so lonely tonight, chat with me on {link} {emoji}",
    # Phishing.
    "Your account has been suspended due to unusual activity. Verify your identity at {link}",
    "Security alert: your password expires today. Log in at {link} to keep your account",
    "Your parcel could not be delivered. Pay the {price} redelivery fee at {link}",
    # SEO spam.
    "Best essay writing service, plagiarism free, 24/7 support, order now {link}",
    "Buy cheap {pills} online without prescription, discreet shipping {link}",
    "Replica {brand} watches and bags at 90% off, visit {link}",
    "Cheap {brand} sneakers wholesale, free shipping worldwide, contact {phone}",
    "Need a loan fast? Bad credit OK, approval in 5 minutes. Apply at {link}",
    "We buy houses for cash, any condition, call {phone} today",
)

SLOTS: dict[str, tuple[str, ...]] = {
    "genre": ("gaming", "music", "makeup", "prank", "fitness", "cooking"),
    "link": (
        "http://bit.ly/2xYz9",
        "https://youtu.be/dQw4w9WgXcQ",
        "www.freegiftz.club",
        "https://tinyurl.com/y7k2m",
        "http://my-music-page.net",
        "https://linktr.ee/bestdeals",
        "http://claim-prize.online/win",
        "https://t.co/Ab12Cd",
    ),
    "emoji": ("😍", "🔥🔥", "❤️", "🙏", "💯", "😂", ""),
    "handle": ("crypto_queen_anna", "djmike_official", "followtrain", "cash.daily", "bestdeals"),
    "count": ("10k", "1000", "50,000", "5k"),
    "price": ("$9.99", "$500", "£300", "$5", "$1,200"),
    "price2": ("$8,000", "$25,000", "£12,000"),
    "prize": ("iPhone 15", "PS5", "$100 Amazon gift card", "Samsung Galaxy", "MacBook"),
    "currency": ("robux", "v-bucks", "coins", "gems"),
    "pills": ("viagra", "xanax", "tramadol", "diet pills"),
    "brand": ("Rolex", "Gucci", "Nike", "Louis Vuitton"),
    "year": ("2010", "2015", "2019", "2022"),
    "money": ("£2.5bn", "$40 million", "€300", "£12.50", "$5", "£1.89", "£150", "$2,000"),
    "money2": ("£3bn", "£800m", "$1.2bn", "€90m"),
    "phone": (
        "020 7219 3000",
        "(555) 010-0199",
        "+44 161 496 0000",
        "0800 123 4567",
        "07700 900123",
        "+1 415 555 0134",
        "0113 496 0000",
        "555-0148",
    ),
    "url": (
        "https://www.bbc.co.uk/news/uk-12345678",
        "https://www.gov.uk/find-your-polling-station",
        "www.eventbrite.co.uk/e/summer-fair-2024",
        "https://github.com/someone/slides",
        "https://www.who.int/news",
        "https://bit.ly/3xTown",
        "https://www.nhs.uk/vaccinations",
        "https://petition.parliament.uk/petitions/600000",
    ),
    "tag": ("NHS", "SaveOurLibrary", "COYS", "MentalHealthAwareness", "GE2024", "proud"),
    "thing": ("library", "swimming pool", "youth centre", "bus route"),
    "place": ("Leeds", "Croydon", "Bristol", "Hackney", "Salford", "Portland", "Austin"),
    "day": ("Thursday", "5 May", "Tuesday"),
    "n": ("9,400", "12,000", "850", "31,000"),
    "pet": ("Max", "Bella", "Biscuit", "Rufus"),
    "charity": ("Cancer Research", "the food bank", "Shelter", "the children's hospital"),
    "name": ("Sam", "Priya", "Jordan", "Aisha", "Tom", "Maria"),
    "event": ("science", "poetry", "art", "maths"),
    "team": ("Leeds United", "the Lakers", "our under-12s", "Arsenal"),
    "topic": ("climate policy", "housing costs", "Rust async", "local history"),
}


def template_split(template: str) -> Split:
    bucket = zlib.crc32(template.encode()) % 5
    return "train" if bucket < 3 else "dev" if bucket == 3 else "test"


def _fills(template: str, rng: random.Random) -> list[str]:
    names = sorted({name for _, name, _, _ in string.Formatter().parse(template) if name})
    if not names:
        return [template]
    combos = list(itertools.product(*(SLOTS[n] for n in names)))
    rng.shuffle(combos)
    return [template.format(**dict(zip(names, c, strict=True))) for c in combos[:PER_TEMPLATE]]


def lookalike_rows(seed: int = 0) -> list[SpamRow]:
    """Every written legitimate look-alike (label 0), split by template."""
    return _rows(TEMPLATES, 0, SOURCE, seed)


def written_spam_rows(seed: int = 0) -> list[SpamRow]:
    """Every written spam case (label 1), split by template."""
    return _rows(SPAM_TEMPLATES, 1, SPAM_SOURCE, seed)


def _rows(templates: tuple[str, ...], label: int, source: str, seed: int) -> list[SpamRow]:
    rng = random.Random(seed)
    rows: list[SpamRow] = []
    for template in templates:
        split = template_split(template)
        rows.extend(SpamRow(text, label, source, "en", split) for text in _fills(template, rng))
    return rows
