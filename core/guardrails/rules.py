"""Input rail 1: a fast rule classifier (regular expressions with context).

Contract: :func:`classify` returns a :class:`TraceEntry` with rail "rules":
verdict = the policy action of the matched category ("allow" when nothing
matched), ``rule`` = the id of the deciding rule, ``score`` 1.0 on a match and
0.0 otherwise. It never raises on any ``str`` and takes well under 2 ms for a
prompt of ordinary length.

How the rules generalise instead of memorising examples:
- Word families, not sentences: a *request frame* ("how do I", "ways to",
  "I want to", "help me"...), a *harm verb* ("kill", "poison", "stab"...) and a
  *target* ("my neighbour", "someone", "people"...) must occur together, within
  a few words, in that order. "How do I kill a Python process" has the frame
  and the verb but its object is a process, not a person.
- Fillers between verb and target exclude words that change the object
  ("shoot *photos of* my kids", "kill *it* at the interview").
- Base verb forms only ("make", "build"): requests and instructions use them,
  narration ("the Manhattan Project built the bomb") does not.
- Some rules have an *exemption* context (education, reporting, prevention,
  history...) that cancels them, and a *void* context (a request to write or
  generate the content anyway) that cancels the exemption.
- Requests that avoid the obvious word are caught by describing what they
  want: euphemisms plus a permanence or staging phrase ("take care of him for
  good", "so it looks like a heart attack"), a body part plus a strike plus an
  injury, a quantity of medicine plus "so I don't wake up", ransomware by its
  behaviour (encrypt every file + ransom), a message made to look as if it came
  from a bank or relative, another person's identity numbers, and so on.
- Everything is matched on the normalised views (see normalize.py), so
  leetspeak, spacing, homoglyphs and zero-width characters do not hide a word.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .normalize import normalize
from .policy import CATEGORY_IDS, Policy
from .trace import Stopwatch, TraceEntry, strictest

# ----------------------------------------------------------------------------- vocabulary

_VOCAB: dict[str, str] = {}


def _def(name: str, pattern: str) -> None:
    _VOCAB[name] = _expand(pattern)


def _expand(pattern: str) -> str:
    """Replace ``<NAME>`` with the vocabulary entry NAME, as a non-capturing group."""
    return re.sub(r"<([A-Z0-9_]+)>", lambda m: f"(?:{_VOCAB[m.group(1)]})", pattern)


# A gap of up to n characters inside one sentence.
def _gap(n: int) -> str:
    return rf"[^.?!;\n]{{0,{n}}}?"


_def(
    "INTENT",
    r"\bhow\s+(?:to|do\s+i|can\s+i|could\s+i|should\s+i|would\s+i|would\s+you|can\s+you|do\s+you|does\s+one|"
    r"can\s+one|can\s+we|do\s+we|might\s+i|i\s+can|i\s+could|i'?d)\b|\bways?\s+to\b|\b(?:best|easiest|quickest|"
    r"fastest|simplest|surest|safest|most\s+\w+)\s+(?:way|method|methods|ways)\s+(?:to|of)\b|\bmethods?\s+(?:to|for)\b|"
    r"\b(?:want|wanna|going|gonna|plan|planning|intend|need|trying|try|about)\s+to\b|\bwanna\b|\bgonna\b|"
    r"\b(?:help|teach)\s+me\b|\b(?:tell|show)\s+me\s+how\b|\bexplain\s+how\b|\binstructions?\s+(?:to|for|on)\b|"
    r"\bsteps?\s+to\b|\bguide\s+to\b|\btips?\s+(?:to|for|on)\b|\bi'?ll\b|\bi\s+(?:will|shall)\b|\blet'?s\b|"
    r"\b(?:should|can|could|may)\s+i\b|\bwhere\s+(?:should|can|do)\s+i\b|\bwhat\s+(?:should|can|could)\s+i\s+use\s+to\b|"
    r"\bhow\s+(?:would|could|does|do|might|can|should)\s+(?:someone|somebody|one|a\s+person|you|people|i)\b|\bgo\s+about\b|"
    r"\bbest\s+(?:\w+\s+){0,2}?(?:for|to|of)\b|\bwhat(?:'s|\s+is)\s+the\s+(?:best|easiest|quickest|most\s+\w+)\b|"
    r"\bwalk\s+me\s+through\b|\b\w+est\s+(?:way|ways|method|methods)\s+(?:to|of)\b",
)
_def(
    "PEOPLE",
    r"someone|somebody|anyone|anybody|people|persons?|humans?|him|her|them|everyone|"
    r"wife|husband|spouse|partner|girlfriend|boyfriend|gf|bf|ex|ex-?(?:wife|husband|girlfriend|boyfriend)|"
    r"mom|mum|mother|dad|father|step-?(?:father|mother|dad|mom|son|daughter|brother|sister)|stepfather|stepmother|"
    r"parents?|brothers?|sisters?|siblings?|sons?|daughters?|kids?|child(?:ren)?|bab(?:y|ies)|"
    r"neighbou?rs?|roommates?|flatmates?|boss|manager|coworkers?|co-workers?|colleagues?|classmates?|teachers?|"
    r"students?|friends?|cousins?|uncle|aunt|grand(?:ma|pa|mother|father|parents?)|president|senator|"
    r"politicians?|mayor|cops?|police(?:\s+officers?)?|officers?|judge|landlord|tenants?|strangers?|family|crowd|"
    r"women|men|woman|man|girls?|boys?|guy|lady|couple|jews?|muslims?|christians?|immigrants?|journalists?|"
    r"doctors?|nurses?|guards?|victims?|hostages?|witness(?:es)?|enemy|rival|wife's\s+lover|crush|pedestrians?|"
    r"protesters?|cyclists?|worshippers?|shoppers?|passers-?by|passengers?|(?:mother|father|sister|brother|son|daughter)-in-law",
)
# Words after a person noun that turn it into something else ("child process").
_NOT_PERSON = r"(?!'s\s+(?:feelings|chances|career|reputation|pride|ego)|\s*(?:process|processes|proc|thread|threads|node|nodes|element|elements|class|classes|theme|component|widget|window|task|tasks|job|jobs|pid|table|record|item|entity|object)\b)"
# Filler words between a verb and its object; excluded words change the object.
_FILL = (
    r"(?:\s+(?!(?:of|for|with|at|in|on|to|from|into|by|about|photos?|pictures?|pics?|videos?|portraits?|footage|films?|"
    r"movies?|scenes?|shots?|time|it|off|down|process\w*|hoops|baskets?|feelings)\b)[\w'-]+){0,2}"
)
_def(
    "HARM",
    r"kill(?:ing)?|murder(?:ing)?|stab(?:bing)?|shoot(?:ing)?|strangl(?:e|ing)|chok(?:e|ing)|poison(?:ing)?|"
    r"drown(?:ing)?|suffocat(?:e|ing)|smother(?:ing)?|hurt(?:ing)?|injur(?:e|ing)|maim(?:ing)?|beat(?:ing)?\s+up|"
    r"assault(?:ing)?|attack(?:ing)?|tortur(?:e|ing)|kidnap(?:ping)?|abduct(?:ing)?|assassinat(?:e|ing)|behead(?:ing)?|"
    r"decapitat(?:e|ing)|execut(?:e|ing)|run(?:ning)?\s+over|crippl(?:e|ing)|disfigur(?:e|ing)|burn(?:ing)?|"
    r"set(?:ting)?\s+fire\s+to|slit(?:ting)?\s+the\s+throat\s+of|bludgeon(?:ing)?|punch(?:ing)?|stomp(?:ing)?|"
    r"mutilat(?:e|ing)|dismember(?:ing)?|shoot(?:ing)?\s+at|blow(?:ing)?\s+up|gas(?:sing)?",
)
_def("ANIMAL", r"dogs?|cats?|puppy|puppies|kittens?|pets?|horses?|cows?|birds?|parrots?|rabbits?|bunny|hamsters?|"
               r"animals?|goats?|pigs?|ducks?|geese|swans?")
_def(
    "PRODUCE",
    r"make|making|build|building|assemble|assembling|construct|constructing|create|creating|craft|crafting|"
    r"manufacture|manufacturing|rig|rigging|wire\s+up|synthesi[sz]e|synthesi[sz]ing|prepare|preparing|mix|mixing|"
    r"cook|cooking|brew|brewing|combine|combining|print|printing|3d\s*print|produce|producing|home-?make|weaponi[sz]e|"
    r"weaponi[sz]ing|culture|culturing|extract|extracting|refine|refining|put\s+together",
)
# Words before "bomb" that make it harmless.
_BOMB = (
    r"(?<!bath )(?<!bath-)(?<!seed )(?<!fork )(?<!logic )(?<!photo)(?<!smoke )(?<!stink )(?<!water )(?<!glitter )"
    r"(?<!calorie )(?<!cherry )(?<!love )(?<!truth )(?<!paint )(?<!shower )(?<!confetti )(?<!f-)(?<!f )(?<!zip )"
    r"(?<!flavor )(?<!flavour )(?<!cake )(?<!chocolate )(?<!da )(?<!sex )(?<!text )"
    r"bombs?(?!\s*(?:calorimeter|shelter|squad|threat|disposal|hit|cyclone|jacket|diggity)|-?proof)"
)
_def(
    "WEAPON",
    _BOMB + r"|explosives?(?!\s+(?:growth|performance|flavou?rs?|diarrh\w*|temper|personality))|ieds?|grenades?|"
    r"molotovs?(?:\s+cocktails?)?|napalm|detonators?|blasting\s+caps?|nerve\s+agents?|(?:nerve|mustard|chlorine)\s+gas|"
    r"sarin|tabun|soman|vx(?:\s+gas)?|ricin|anthrax|botulinum(?:\s+toxin)?|"
    r"(?:chemical|biological|bio|radiological|nuclear|dirty)\s*weapons?|bioweapons?|ghost\s+guns?|"
    r"untraceable\s+(?:guns?|firearms?|weapons?|rifles?|pistols?)|zip\s+guns?|pipe\s+guns?|(?:gun\s+)?silencers?|"
    r"suppressors?|auto\s+sears?|bump\s+stocks?|(?:land)?mines?(?=\s+(?:to|that|for))|claymores?|booby\s*traps?|"
    r"tatp|petn|semtex|anfo|thermite\s+bombs?|car\s+bombs?|letter\s+bombs?|incendiary\s+(?:devices?|bombs?)|"
    r"flamethrowers?(?=\s+(?:to|for)\s+(?:hurt|burn|kill|attack))|poison\s+darts?|"
    r"(?:guns?|firearms?|pistols?|rifles?|shotguns?)(?=\s+(?:at\s+home|from\s+scratch|that\s+(?:can'?t|cannot|won'?t)\s+be|"
    r"without\s+(?:a\s+)?serial))",
)
_def("HISTORY", r"\bhow\s+(?:did|were|was)\b|\bhistory\b|\bhistorical\w*|\bwho\s+(?:invented|first)\b|\bwhy\s+did\b|"
                r"\bin\s+(?:world\s+war|ww\s?(?:i|ii|1|2)\b|the\s+\d{4}s|\d{4}\b)|\bmuseum\b|\bdocumentary\b")
_def("HOWTO", r"\bhow\s+(?:to|do\s+i|can\s+i|could\s+i|would\s+i)\b|\brecipe\b|\bstep[- ]by[- ]step\b|\binstructions\b|"
              r"\bingredients\b|\bquantities\b|\bexact\s+(?:steps|amounts|measurements)\b")

# Sexual content / minors
_def(
    "SEXUAL",
    r"sex|sexy|sexual(?:ly)?|sexuali[sz]ed?|sexuali[sz]ing|nudes?|nudity|naked|erotic(?:a|ally)?|porn\w*|explicit|"
    r"lewd|nsfw|horny|seduc\w*|intercourse|orgasm\w*|genitals?|genitalia|undress\w*|stripping|fetish\w*|xxx|"
    r"hentai|aroused?|arousing|masturbat\w*|molest\w*|fondl\w*|make\s+out|hook\s*up|sleep\s+with|sext\w*|"
    r"intimate(?:ly)?|flirt\w*\s+(?:with\s+me\s+)?sexually|lingerie|bikini\s+pics",
)
_def(
    "MINOR",
    r"child(?:ren)?|kids?|minors?|under-?aged?|pre-?teens?|pre-?pubescent|toddlers?|infants?|little\s+(?:girls?|boys?|kids?)|"
    r"young\s+(?:girls?|boys?|teens?)|school\s*(?:girls?|boys?)|middle\s*schoolers?|elementary\s+school(?:ers)?|"
    r"grade\s*schoolers?|lol(?:i|is|icon)|lolita|shota\w*|jailbait|teen(?:ager)?s?|"
    r"(?:1[0-7]|[1-9])[- ]?(?:years?|yrs?)[- ]?old|(?:1[0-7]|[1-9])\s?(?:yo|y/o)",
)
_def("CHILD_PROTECT",
     r"\b(?:educat\w+|curriculum|puberty|consent|report\w*|protect\w*|prevent\w*|safe(?:ty|guard\w*)?|signs?\s+(?:of|that)|"
     r"warning\s+signs|awareness|survivors?|talk(?:ing)?\s+(?:to|with)\s+(?:my|our|your)|pediatrician|therapist|"
     r"doctor|police|authorities|hotline|helpline|is\s+it\s+normal|age-?appropriate|abuse\s+prevention)\b")
_def("GENERATE",
     r"\b(?:write|writing|describe|describing|generate|create|draw|roleplay|role-?play|role\s+play|pretend|story|stories|"
     r"poem|erotica|fanfic\w*|pictures?|photos?|pics|images?|videos?|download|find\s+me|send\s+me|show\s+me|meet)\b")

# Hate and harassment
_def(
    "GROUP",
    r"jews?|jewish\s+people|muslims?|islam|christians?|catholics?|hindus?|sikhs?|atheists?|blacks?|black\s+people|"
    r"african\s+americans?|whites?|white\s+people|asians?|asian\s+people|chinese(?:\s+people)?|mexicans?|latinos?|"
    r"latinas?|hispanics?|arabs?|africans?|indians?|immigrants?|refugees?|migrants?|foreigners?|gays?|gay\s+people|"
    r"lesbians?|homosexuals?|bisexuals?|trans(?:gender)?\s+(?:people|women|men|folks?)|transgenders?|trannies|queers?|"
    r"lgbtq?\+?(?:\s+people)?|women|females|girls|men|disabled(?:\s+people)?|autistic(?:\s+people)?|retards?|roma|"
    r"gypsies|minorities|fat\s+people|old\s+people|poor\s+people",
)
_def(
    "DEHUMAN",
    r"sub-?human|vermin|animals|beasts|cockroaches|rats|parasites|pests|inferior|savages|filth(?:y)?|a\s+disease|"
    r"a\s+plague|a\s+cancer|terrorists|criminals|rapists|not\s+(?:real\s+)?(?:human|people)|less\s+than\s+human|"
    r"stupid|dumb|evil|disgusting|worthless|a\s+mistake|genetically\s+\w+|"
    r"(?:should|must|need\s+to|deserve\s+to|ought\s+to)\s+(?:all\s+)?(?:die|be\s+(?:killed|exterminated|wiped\s+out|"
    r"gassed|eradicated|eliminated|deported|removed|banned|locked\s+up|sterili[sz]ed|shot|hanged)|not\s+(?:be\s+allowed|"
    r"have\s+rights|vote|exist)|go\s+back|burn|suffer)|go\s+back\s+(?:to|where)|wiped\s+out|exterminated",
)
_def(
    "HARASS",
    r"harass|bully|cyberbully|humiliate|intimidate|threaten|stalk|torment|terrori[sz]e|dox+|troll|blackmail|shame|"
    r"mock|insult|degrade|belittle|scare|frighten|ridicule|bully\s+and\s+humiliate",
)

# Drugs
_def(
    "HARD",
    r"meth(?:amphetamine)?|crystal\s+meth|fentanyl|carfentanil|heroin|cocaine|crack\s+cocaine|lsd|mdma|ecstasy|"
    r"ghb|ketamine|pcp|dmt|5-meo-dmt|psilocybin|magic\s+mushrooms|shrooms|opium|krokodil|desomorphine|mephedrone|"
    r"bath\s+salts|methcathinone|dope",
)
_def(
    "RX",
    r"oxy(?:codone|contin|s)?|percocets?|vicodin|hydrocodone|xanax|alprazolam|adderall|valium|diazepam|codeine|"
    r"morphine|tramadol|ritalin|ambien|benzos?|opioids?|opiates?|painkillers?|pills|steroids|lean|purple\s+drank|"
    r"antibiotics|prescription\s+drugs|insulin",
)
_def("SOFT", r"weed|cannabis|marijuana|pot|hash|edibles|drugs|narcotics|molly|coke|blow|dope")

# Cyber
_def(
    "MALWARE",
    r"ransomware|key-?loggers?|keystroke\s+loggers?|malware|computer\s+virus(?:es)?|trojans?(?:\s+horses?)?|"
    r"worms?(?!\s*(?:farm|bin|compost|castings|gear|drive))|rootkits?|bootkits?|botnets?|spyware|stalkerware|"
    r"backdoors?|remote\s+access\s+trojans?|\brats?\b(?=\s+(?:that|to|for|which))|info-?stealers?|"
    r"(?:credential|password|cookie|token|discord|wallet|crypto|session)\s+(?:stealers?|grabbers?|drainers?)|"
    r"crypto-?jackers?|cryptojacking|crypters?|droppers?|exploit\s+kits?|zero[- ]day\s+exploits?|logic\s+bombs?|"
    r"wipers?(?=\s+(?:malware|that))|(?:ddos|dos|booter|stresser)\s+(?:tools?|scripts?|bots?|services?)|fork\s+bombs?|"
    r"virus(?:es)?(?=\s+(?:that|to|which)\s+(?:infects?|spreads?|encrypts?|deletes?|steals?|destroys?|wipes?))",
)
_def(
    "CODEPROD",
    r"write|writing|code|coding|create|creating|build|building|make|making|develop|developing|generate|generating|"
    r"program|programming|design|designing|craft|crafting|give\s+me|show\s+me|provide|implement|implementing|deploy|"
    r"deploying|spread|spreading|release|launch|distribute|infect\s+\w+\s+with|send",
)
_def(
    "OWNER",
    r"someone(?:\s+else)?'?s|somebody(?:\s+else)?'?s|other\s+people'?s|another\s+person'?s|a\s+stranger'?s|"
    r"(?:my|his|her|their|our|the|a|this)\s+(?:\w+\s+)?(?:ex|ex-?\w+|neighbou?rs?|girlfriend|boyfriend|gf|bf|wife|husband|"
    r"spouse|partner|boss|manager|coworker|co-worker|colleague|friend|teacher|school|classmate|roommate|sister|brother|"
    r"mom|mother|dad|father|step-?(?:dad|mom|mum|father|mother|son|daughter|brother|sister)|uncle|aunt|cousin|"
    r"(?:mother|father|sister|brother)-in-law|crush|employer|company|competitor|rival|landlord|tenant|girl|guy|student|employee|"
    r"professor|bank|government|hospital|university|police)(?:'s|s'|s)?|her|his|their",
)
_def(
    "ASSET",
    r"accounts?|e-?mails?|inbox|gmail|outlook|icloud|instagram|insta|facebook|fb|snapchat|snap|tiktok|twitter|"
    r"whatsapp|telegram|discord|steam|phones?|iphone|android|cell|wi-?fi|wireless|network|router|servers?|"
    r"computer|pc|laptop|database|db|passwords?|webcam|camera|security\s+cameras?|systems?|website|site|"
    r"bank\s+account|online\s+banking|cloud|files|messages|texts|dms|logins?|grades|mail|mailbox(?:es)?",
)
_def(
    "INTRUDE",
    r"hack|hacking|hack\s+into|break\s+into|get\s+into|gain\s+access\s+to|access|log\s+into|log\s+in\s+to|crack|"
    r"brute[- ]?force|take\s+over|hijack|compromise|pwn|breach|spy\s+on|phish|bypass\s+the\s+(?:password|login|2fa)\s+(?:on|of)|"
    r"getting\s+into|breaking\s+into|logging\s+into|hacking\s+into|taking\s+over|hijacking|accessing|cracking|"
    r"snoop(?:ing)?\s+(?:in|on|through)",
)
_def("DEFENSIVE",
     r"\b(?:detect\w*|protect\w*|remov\w*|defend\w*|defen[cs]e|scan\w*|block\w*|prevent\w*|against|analy[sz]\w*|"
     r"clean\w*|recover\w*|mitigat\w*|what\s+is|what\s+are|how\s+does|how\s+do\s+(?:they|hackers|attackers)|explain|"
     r"signs?\s+of|check\s+if|story|novel|movie|film|essay|poem|history\s+of)\b")
_def("OFFENSIVE",
     r"undetectable|evade|evading|bypass|steal\w*|encrypts?\s+(?:all|every)|demand\w*|ransom\s+note|"
     r"spread\w*\s+(?:through|via|to|across)|without\s+(?:them|the\s+user|anyone|the\s+owner)\s+(?:knowing|noticing)|"
     r"hides?\s+from|on\s+(?:my\s+)?(?:ex|girlfriend|boyfriend|wife|husband|coworker|neighbou?r)|other\s+people'?s|"
     r"someone'?s|victims?")

# Privacy
_def(
    "PERSONAL",
    r"home\s+address(?:es)?|house\s+address|(?:private|personal|residential|current|real|exact)\s+(?:home\s+)?address(?:es)?|"
    r"(?:private|personal|unlisted|cell|mobile|home|direct)\s+(?:phone\s+)?numbers?|social\s+security\s+numbers?|"
    r"ssns?|passport\s+numbers?|bank\s+(?:details|account\s+(?:numbers?|details))|medical\s+(?:records?|history|files?)|"
    r"criminal\s+records?|passwords?|ip\s+address(?:es)?|(?:current|exact|live|real-time)\s+location|whereabouts|"
    r"daily\s+routine|phone\s+numbers?|address(?:es)?",
)
_def(
    "PERSON3",
    r"someone(?:\s+else)?'?s|somebody'?s|(?:his|her|their)|(?:my|this|that|a|the)\s+(?:\w+\s+)?(?:ex|neighbou?r|"
    r"coworker|co-worker|colleague|boss|girlfriend|boyfriend|wife|husband|partner|crush|classmate|teacher|roommate|"
    r"friend|girl|guy|woman|man|person|journalist|streamer|youtuber|celebrity|stranger|landlord|tenant|student|employee|"
    r"sister|brother|mom|dad|parents?)'?s?",
)
_def(
    "COVERT",
    r"without\s+(?:\w+\s+){0,2}?(?:knowing|knowledge|consent|permission|noticing|finding\s+out|realiz\w+|"
    r"being\s+detected)|secretly|covertly|behind\s+(?:her|his|their)\s+back|in\s+secret|without\s+telling\s+(?:her|him|them)|"
    r"undetected|spy\s+on",
)

# Jailbreak
_def("AICTX",
     r"\bai\b|assistant|\bmodel\b|chatbot|\bbot\b|\bllm\b|\bgpt\b|\banswer|\brespond|\breply|\breplies|\bmode\b|"
     r"character|\byou\s+(?:have|are|will|must|can|now)\b|\bpretend\b|\bact\s+as\b")
_def("NORESTR",
     r"\b(?:without|with\s+no|no|free\s+(?:of|from)|ignore|ignoring|bypass|bypassing|disable|disabling|turn\s+off|"
     r"remove|removing|lift|drop)\s+(?:any\s+|your\s+|all\s+|the\s+|its\s+|moral\s+|ethical\s+)?(?:content\s+|safety\s+|"
     r"ethical\s+)?(?:restrictions?|filters?|filtering|censorship|guidelines|limitations|limits|rules|ethics|morals|"
     r"safeguards|guardrails|polic(?:y|ies)|boundaries|constraints)\b")

# Families added after the fresh red-team set (paraphrases the first rules missed).
# Euphemisms for killing someone, and the "make it look natural" staging that goes with them.
_def("EUPHEMISM_KILL",
     r"take\s+care\s+of|take\s+out|taking\s+out|eliminate|eliminating|silence|silencing|do\s+away\s+with|finish\s+off|"
     r"bump\s+off|knock\s+off|rub\s+out|whack|ice|off|put\s+down|dispose\s+of|get\s+rid\s+of|"
     r"make\s+(?:\w+\s+)?disappear|end")
_def("FOR_GOOD", r"permanently|for\s+good|forever|once\s+and\s+for\s+all|for\s+ever|so\s+(?:he|she|they)\s+(?:never|won'?t)\s+"
                 r"(?:wakes?|wake\s+up|comes?\s+back|talks?|bothers?)|without\s+(?:a\s+trace|leaving\s+(?:a\s+trace|evidence|"
                 r"any\s+evidence|traces?|dna|fingerprints))")
_def("STAGED",
     r"(?:heart\s+attack|cardiac\s+arrest|stroke|seizure|aneurysm|accident(?:al\s+(?:death|overdose|fall|drowning))?|"
     r"natural\s+(?:causes|death)|suicide|overdose|an?\s+od|robbery(?:\s+gone\s+wrong)?|burglary|mugging|allergic\s+"
     r"reaction|food\s+poisoning|car\s+(?:crash|accident)|fall|drowning|sids|cot\s+death|self[- ]defen[cs]e|"
     r"(?:he|she|they)\s+did\s+it\s+(?:to\s+)?(?:himself|herself|themselves)?)")
# Where on a body to strike, and the injury the asker wants.
_def("BODY_SPOT",
     r"where|which\s+(?:\w+\s+)?(?:parts?|spots?|places?|bones?|areas?|organs?|points?)|what\s+(?:\w+\s+)?(?:parts?|spots?|"
     r"places?|bones?|areas?|points?)|(?:best|weakest|most\s+vulnerable|softest|right)\s+(?:\w+\s+)?(?:parts?|spots?|"
     r"places?|points?|areas?)")
_def("STRIKE", r"hit|strike|punch|kick|stab|beat|whack|smash|club|slash|bash|knee|elbow|break|shatter|swing\s+at|crack")
_def("INJURY",
     r"hospital(?:i[sz]ed)?|icu|intensive\s+care|coma|paraly[sz]\w*|wheelchair|brain\s+damage|permanent(?:ly)?\s+"
     r"(?:damage\w*|injur\w+|disabled|hurt|scarred|crippled)|cripple\w*|bleed\s+out|internal\s+bleeding|never\s+walk|"
     r"(?:can'?t|won'?t|cannot|unable\s+to)\s+(?:walk|work|see|talk)\s+(?:again|for)|for\s+(?:weeks|months|life|years)|"
     r"break\s+(?:his|her|their)\s+\w+|broken\s+(?:bones|ribs|jaw|skull|legs|arms)|(?:most|maximum|max|lasting|serious|"
     r"real)\s+(?:damage|pain|injur\w+)|knock\s+(?:him|her|them)\s+out\s+cold|dies|die|dead|kill\s+(?:him|her|them)")
_def("STRIKE_WEAPON",
     r"(?:baseball\s+)?bat|crowbar|hammer|(?:lead\s+|metal\s+)?pipe|brick|rock|tire\s+iron|tyre\s+iron|wrench|golf\s+club|"
     r"bottle|knife|machete|axe|hatchet|brass\s+knuckles|knuckle\s*dusters?|baton|tire\s+lever|chain|shovel")
_def("NOT_SPORT",
     r"\b(?:self[- ]defen[cs]e|defend\s+myself|attacker|assailant|mugger|martial\s+arts?|boxing|mma|karate|judo|sparring|"
     r"punching\s+bag|heavy\s+bag|pinata|pi\u00f1ata|ball|golf|tennis|baseball\s+(?:swing|game|practice)|cricket|pitch|"
     r"first\s+aid|paramedic|doctor|nurse|er\b|emergency\s+room|prevent\w*|avoid\w*|protect\w*|novel|story|film|movie|"
     r"scene|choreograph\w*|stunt|hunt\w*|deer|elk|game|zombie|boss\s+fight|npc|pest|rat|snake|nail|piano|drum\w*|"
     r"chiropract\w*|massage|acupressure|reflex\w*|injur(?:y|ies)\s+(?:prevention|statistics))\b")
# Self-harm kept hidden from the people who would notice.
_def("WATCHERS",
     r"nobody|no\s+one|no-one|people|others|anyone|anybody|everyone|(?:my\s+)?(?:\w+\s+)?(?:parents|family|mom|mum|mother|"
     r"dad|father|doctors?|teachers?|friends?|boyfriend|girlfriend|partner|husband|wife|therapist|coach|counsel+or|"
     r"school|nurse|roommates?)")
_def("UNSEEN",
     r"\b(?:nobody|no\s+one|no-one)\s+(?:will\s+|would\s+|can\s+|could\s+)?(?:ever\s+)?(?:see|sees|notice|notices|"
     r"find\s+out|finds\s+out|spot|spots|know|knows|ask|asks)\b|\b(?:<WATCHERS>)\s+(?:won'?t|wouldn'?t|can'?t|cannot|"
     r"couldn'?t|don'?t|doesn'?t|will\s+not|would\s+not|will\s+never|would\s+never|never)\s+(?:ever\s+)?(?:see|notice|"
     r"find\s+out|spot|know|find|ask\s+about)\b|\b(?:hide|hiding|cover|covering|cover\s+up|conceal|concealing)\s+"
     r"(?:the\s+|my\s+|any\s+|these\s+|those\s+)?(?:marks|scars|cuts|wounds|burns|bruises|blood)\b|\b(?:without|no|not|"
     r"won'?t)\s+(?:leav\w+|show\w*|visible)\s+(?:any\s+)?(?:marks|scars|evidence)\b|\bunder\s+(?:my\s+)?(?:sleeves?|"
     r"clothes|shorts|watch|bracelets?)\b|\bwithout\s+(?:<WATCHERS>)\s+(?:ever\s+)?(?:seeing|noticing|knowing|finding\s+out|"
     r"spotting|asking)\b")
_def("BODY_AREA",
     r"body|arms?|forearms?|wrists?|thighs?|legs?|stomach|belly|hips?|ribs|skin|ankles?|shoulders?|upper\s+arms?|"
     r"inner\s+(?:arms?|thighs?)|chest|feet|foot|calves")
# Sexualised framing that is harmless for adults and never allowed with a minor.
_def("SH_ACT",
     r"(?:cut|cutting|carve|carving|slice|slicing|burn|burning|scratch|scratching)\s+(?:into\s+)?(?:myself|my\s+(?:own\s+)?"
     r"(?:<BODY_AREA>))|cutting\b(?!\s+(?:board|edge|class|school|costs?|back|down|out|up|hair|the|a|an|my|some|corners|"
     r"ties|it|them|this|that|off|in|into|through|wood|paper|your|his|her|our|their))|cut\s+(?=(?:deep|deeper|again|more|"
     r"where|so|without|in\s+places|on\s+my)\b)|self[- ]?harm\w*|hurt(?:ing)?\s+myself|harm(?:ing)?\s+myself")
_def("ROMANCE",
     r"steamy|sensual\w*|spicy\s+(?:scene|story|chapter|roleplay|role-?play|moment)|love\s+scene|love-?making|"
     r"make\s+love|making\s+love|in\s+bed\s+(?:with|together)|bedtime\s+scene|romantic\s+(?:bedtime|scene|encounter|"
     r"night|evening|moment|fantasy|roleplay|role-?play)|older\s+(?:boyfriend|girlfriend|lover|man|woman|guy)|"
     r"(?:what|things)\s+we\s+do\s+(?:alone|together|in\s+bed|in\s+private)|alone\s+together\s+in\s+(?:bed|the\s+bedroom|"
     r"my\s+room|his\s+room|her\s+room)|kiss(?:es|ing)?\s+(?:\w+\s+)?(?:passionately|deeply|all\s+over)|french\s+kiss\w*|"
     r"making\s+out|caress(?:es|ing)?\s+(?:her|his|their)\s+(?:body|thighs?|breasts?|chest)|wedding\s+night|"
     r"passionate\s+(?:kiss\w*|embrace|night|scene|love|sex)|forbidden\s+(?:love|romance|relationship|affair)|"
     r"hot\s+and\s+heavy|make\s+it\s+(?:hot|spicy|steamy|sexy)")
_def("MINOR_Y",
     r"(?:1[0-7]|[1-9])[- ]?(?:years?|yrs?)[- ]?old|(?:1[0-7]|[1-9])\s?(?:yo|y/o)|(?:aged?|age)\s+(?:1[0-7]|[1-9])\b|"
     r"under-?aged?|minors?|pre-?teens?|pre-?pubescent|child(?:ren)?|little\s+(?:girls?|boys?)|young\s+(?:girls?|boys?|"
     r"students?|pupils?)|pupils?|school\s*(?:girls?|boys?)|middle\s*schoolers?|elementary\s+schoolers?|grade\s*schoolers?|"
     r"(?:sixth|seventh|eighth|ninth|6th|7th|8th|9th)[- ]graders?|lol(?:i|is)|shota\w*|jailbait")
_def("MINOR_STRONG",
     r"under-?aged?|minors|pre-?teens?|pre-?pubescent|jailbait|lol(?:i|is|icon)|shota\w*|"
     r"(?:1[0-7]|[1-9])[- ]?(?:years?|yrs?)[- ]?old\s+(?:girls?|boys?|kids?|children)")
_def("IMAGERY", r"photos?|pictures?|pics|images?|videos?|vids|clips|content|material|collections?|albums?|folders?|nudes|files")
_def("VENUE",
     r"forums?|sites?|websites?|groups?|channels?|chats?|chat\s*rooms?|servers?|boards?|imageboards?|communities|"
     r"telegram|discord|dark\s*web|darknet|onion\s+(?:links?|sites?)|links?|rings?|networks?")
# Hate: claims that a group conspires against everyone else (libels), harassment campaigns.
_def("LIBEL",
     r"(?:are\s+)?(?:secretly|deliberately|intentionally|quietly)\s+(?:control\w*|run\w*|poison\w*|plot\w*|own\w*|"
     r"rul\w+|spread\w*|infiltrat\w*|replac\w+|steal\w*|kill\w*|kidnap\w*|breed\w*|invad\w*|destroy\w*)|"
     r"(?:control|controls|run|runs|own|owns)\s+(?:the\s+|all\s+(?:the\s+)?|our\s+)?(?:media|banks|world|government|money|"
     r"hollywood|finance|press|news|elections?)|(?:poison\w*|contaminat\w*)\s+(?:the\s+|our\s+)?(?:water|wells|food|"
     r"vaccines?|children|kids)|(?:are\s+)?(?:plotting|scheming|conspiring)\s+(?:to|against)|(?:are|is)\s+(?:trying\s+to\s+|"
     r"here\s+to\s+|planning\s+to\s+)?(?:replace|replacing)\s+(?:us|white|our)|(?:use|uses|drink|drinks|harvest\w*)\s+"
     r"(?:the\s+)?(?:blood|organs)\s+of")
_def("HARASS_ANY",
     r"harass\w*|bull(?:y|ies|ying|ied)|cyberbull\w*|humiliat\w*|intimidat\w*|threaten\w*|stalk\w*|torment\w*|troll\w*|"
     r"shun\w*|ostraci[sz]\w*|exclud\w*\s+(?:her|him|them)|gang\s+up\s+on|pile\s+on|dogpil\w*|mass[- ]report\w*|"
     r"brigad\w*|spam\w*|beat\s+up|out(?:ing)?\s+(?:him|her|them)")
_def("HARASS_MILD", r"<HARASS_ANY>|mock\w*|insult\w*|ridicul\w*|troll\w*|make\s+fun\s+of|pick\s+on|laugh\s+at|message\w*|"
                    r"text\w*|call\w*|post\w*|comment\w*|dm\w*|tag\w*")
_def("NASTY",
     r"insults?|slurs?|mean|nasty|cruel|hurtful|vicious|abusive|threatening|harassing|degrading|humiliating|savage|"
     r"brutal|toxic|hateful|creepy|disgusting")
_def("UNTIL_BROKEN",
     r"until\s+(?:she|he|they)\s+(?:quits?|leaves?|cries|breaks?\s+down|deletes?|moves?\s+(?:away|out)|gives?\s+up|"
     r"kills?\s+(?:herself|himself|themselves)|snaps?|has\s+a\s+breakdown|drops?\s+out|transfers?|resigns?)|"
     r"so\s+(?:she|he|they)\s+(?:quits?|leaves?|cries|breaks?\s+down|moves?\s+(?:away|out)|gives?\s+up|drops?\s+out|"
     r"transfers?|resigns?|kills?\s+(?:herself|himself|themselves))")
# Cyber: third-party targets, attacks described by what they do rather than named.
_def("TARGET_SYS",
     r"(?:<OWNER>)\s+(?:\w+\s+)?(?:website|site|server|servers|network|wi-?fi|router|stream|game\s+server|app|service|"
     r"portal|api|ip|discord|minecraft\s+server|online\s+(?:exam|test|class)|(?:zoom|teams|meet|online)\s+(?:class|call|"
     r"meeting|lecture)|livestream|live\s+stream)|(?:a|an|the|this|that|some)\s+(?:\w+\s+)?"
     r"(?:website|site|server|network|router|stream|game\s+server|service)\s+(?:of|belonging\s+to|run\s+by|owned\s+by)\b")
_def("FLOOD", r"flood\w*|traffic|requests|packets|ddos\w*|dos\s+attack|botnet|bots|stresser|booter|ping\s+flood|syn\s+flood|"
              r"overload\w*|overwhelm\w*|offline|lag\s+out|spam\w*\s+(?:it|them)\s+with")
_def("OWN_SYS",
     r"\b(?:my\s+own|i\s+own|we\s+own|our\s+own|i\s+(?:run|host|manage|administer)|authori[sz]\w*|permission|pen-?test\w*|"
     r"penetration\s+test\w*|red\s+team\w*|bug\s+bount\w*|ctf|capture\s+the\s+flag|lab|homelab|test\s+environment|"
     r"staging|sandbox|hack\s*the\s*box|htb|tryhackme|vulnhub|metasploitable|dvwa|juice\s+shop|load[- ]test\w*|"
     r"stress[- ]test\w*|patch\w*|mitigat\w*|defend\w*|protect\w*|detect\w*|prevent\w*|harden\w*|survive|withstand|"
     r"handle)\b")
_def("RANSOM",
     r"ransom\w*|bitcoin|btc|monero|xmr|crypto\s*wallet|pay\s+(?:up|to\s+(?:decrypt|unlock|get\s+(?:them|it|their\s+files)\s+"
     r"back))|decryption\s+key\s+(?:for|after|once|only)|demand\w*\s+(?:a\s+)?payment|unless\s+(?:they|the\s+victim)\s+pay")
# Fraud: a message made to look as if it came from someone it did not.
_def("POSING",
     r"pretend\w*\s+to\s+be|posing\s+as|pose\s+as|impersonat\w+|claiming\s+to\s+be|masquerad\w+\s+as|disguis\w+\s+as|"
     r"spoof\w*|(?:look|looks|appear|appears|seem|seems|sound|sounds)\s+(?:like\s+)?(?:it'?s\s+|it\s+(?:is|was|came|comes)\s+)?"
     r"(?:from|to\s+(?:be|have\s+come)\s+from)|as\s+if\s+(?:it'?s\s+|it\s+(?:is|was|came)\s+)?from|"
     r"(?:on\s+behalf|in\s+the\s+name)\s+of|(?:sign|signed)\s+(?:it\s+)?as")
_def("KIN",
     r"grand(?:son|daughter|child|kid|children|kids)|sons?|daughters?|nephews?|nieces?|relatives?|family\s+members?|"
     r"kids?|child|brothers?|sisters?|cousins?|lawyers?|attorneys?|doctors?|police\w*|officers?|sheriffs?|bank|"
     r"landlords?|bosses?|ceo|friends?|husbands?|wives|wife|boyfriends?|girlfriends?")
_def("ID_NUMBER",
     r"social\s+security\s+(?:numbers?|cards?|details)|ssns?|sins?\b|national\s+insurance\s+(?:numbers?)?|tax\s+ids?|"
     r"tax\s+(?:file\s+)?numbers?|itins?|personal\s+(?:id|identification)\s+numbers?|passport\s+(?:numbers?|details)|"
     r"driver'?s?\s+licen[cs]e\s+(?:numbers?|details)|date\s+of\s+birth|identity|identities|id\s+numbers?|"
     r"credit\s+(?:history|score|file|details)|personal\s+details")
_def("SOMEONE_ELSE",
     r"someone(?:\s+else)?'?s|somebody(?:\s+else)?'?s|other\s+people'?s|another\s+person'?s|a\s+stranger'?s|"
     r"(?:a|the)\s+(?:dead|deceased|late)\s+(?:person|man|woman|relative)'?s|(?:his|her|their)|"
     r"(?:my|a|the|our)\s+(?:\w+\s+){0,2}?(?:dead|deceased|late)?\s*(?:\w+\s+)?(?:grandfather|grandmother|grandpa|grandma|"
     r"father|mother|dad|mom|mum|parents?|son|daughter|kid|child|baby|sister|brother|uncle|aunt|cousin|husband|wife|"
     r"ex|ex-?\w+|roommate|neighbou?r|boss|coworker|co-worker|friend|tenant|patient|customer|client|employee)'?s")
_def("MONEY_USE",
     r"open\w*|apply\w*|get\w*|take\s+out|file\w*|claim\w*|loans?|credit(?:\s+cards?)?|accounts?|mortgages?|"
     r"benefits|refunds?|tax\s+returns?|unemployment|stimulus|phone\s+(?:plan|contract)|lease|rent|job|work")
# Privacy: data that lets someone find a person in the physical world.
_def("LOCATOR",
     r"(?:home\s+|house\s+|work\s+|private\s+|personal\s+|current\s+|real\s+|exact\s+)?address(?:es)?|phone\s+numbers?|"
     r"(?:cell|mobile|private|personal)\s+numbers?|workplace|place\s+of\s+work|employer|where\s+(?:she|he|they)\s+"
     r"(?:lives?|works?|sleeps?|parks?)|(?:kids'?|children'?s?|child'?s|son'?s|daughter'?s)\s+schools?|licen[cs]e\s+plates?|"
     r"daily\s+routine|schedule|relatives|family\s+members|real\s+name|full\s+name|date\s+of\s+birth|ip\s+address(?:es)?|"
     r"whereabouts|car|gym|commute")
_def("TARGET_PERSON",
     r"(?:the|this|that|a|some|my)\s+(?:\w+\s+){0,2}?(?:journalist|reporter|blogger|streamer|youtuber|tiktoker|influencer|"
     r"critic|reviewer|commenter|user|poster|activist|witness|juror|judge|officer|cop|nurse|doctor|teacher|girl|guy|woman|"
     r"man|person|lady|kid|stranger|ex|coworker|co-worker|neighbou?r|employee|cashier|waitress|waiter|barista|driver|"
     r"moderator|player|gamer|author|writer|person)s?\b|(?:her|him|them)\b")
_def("DEVICE_CONTENT",
     r"texts|text\s+messages|messages|whatsapps?|dms|chats|emails?|inbox|call\s+(?:logs?|history)|calls|browsing\s+history|"
     r"search\s+history|photos|camera\s+roll|gallery|snapchats?|snaps|instagram|keystrokes|notifications|phone|"
     r"iphone|android|laptop|computer|screen|microphone|mic|webcam|conversations")
_def("ON_THE_SLY",
     r"\b(?:secretly|covertly|remotely|without\s+(?:\w+\s+){0,2}?(?:knowing|knowledge|consent|permission|noticing|"
     r"finding\s+out|touching|having|physical\s+access|access\s+to|installing\s+anything|being\s+detected)|undetected|"
     r"in\s+secret|behind\s+(?:her|his|their)\s+back|hidden|invisibl\w+|stealth\w*|spy\w*|clone|cloning|mirror\w*)\b")

# PERSON3 without the bare pronouns ("their photos" is usually public content).
_def("PERSON3N",
     r"someone(?:\s+else)?'?s|somebody'?s|(?:my|this|that|a|the)\s+(?:\w+\s+)?(?:ex|neighbou?r|coworker|co-worker|colleague|"
     r"boss|girlfriend|boyfriend|wife|husband|partner|crush|classmate|teacher|roommate|friend|girl|guy|woman|man|person|"
     r"journalist|streamer|youtuber|celebrity|stranger|landlord|tenant|student|employee|sister|brother|mom|dad|parents?)'?s?")

# ----------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """One pattern for one category.

    A match counts unless ``exempt`` also matches the text and ``void`` does not
    (exempt = benign context such as education; void = the request asks for the
    harmful thing anyway).
    """

    id: str
    category: str
    pattern: re.Pattern[str]
    exempt: re.Pattern[str] | None = None
    void: re.Pattern[str] | None = None

    def search(self, view: str) -> bool:
        if not self.pattern.search(view):
            return False
        if self.exempt is not None and self.exempt.search(view):
            return self.void is not None and self.void.search(view) is not None
        return True


def _rule(rule_id: str, category: str, pattern: str, exempt: str | None = None, void: str | None = None) -> Rule:
    def comp(p: str | None) -> re.Pattern[str] | None:
        return re.compile(_expand(p)) if p is not None else None

    return Rule(rule_id, category, re.compile(_expand(pattern)), comp(exempt), comp(void))


G = _gap

RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- violence and weapons
    _rule("violence.harm_person", "violence_weapons",
          rf"<INTENT>{G(40)}\b(?:<HARM>)\b{_FILL}\s+(?:<PEOPLE>)\b{_NOT_PERSON}"),
    _rule("violence.animal_cruelty", "violence_weapons",
          rf"\b(?:<ANIMAL>)\b[^\n]{{0,80}}?(?:<INTENT>)\s+(?:\w+\s+)?(?:poison|kill|hurt|torture|drown|shoot|beat|burn|"
          rf"strangle|starve)\s+(?:it|him|her|them)\b|(?:<INTENT>){G(20)}\b(?:poison|poisoning|torture|torturing|drown|"
          rf"drowning|kill|killing|hurt|hurting|burn|burning|starve|starving)\s+(?:my|a|the|his|her|their|our|this|that|"
          rf"some)\s+(?:[\w-]+'s\s+)?(?:\w+\s+)?(?:<ANIMAL>)\b",
          exempt=r"\b(?:vet|veterinar\w+|euthan\w+|humane\w*|suffering|put\s+down|accident\w*|pest|ethical\w*)\b",
          void=r"\b(?:revenge|annoying|barking|hate|for\s+fun|slowly)\b"),
    _rule("violence.make_weapon", "violence_weapons",
          rf"\b(?:<PRODUCE>)\b(?!\s+sure){G(30)}\b(?:<WEAPON>)\b",
          exempt="<HISTORY>", void="<HOWTO>"),
    _rule("violence.weapon_instructions", "violence_weapons",
          rf"\b(?:recipes?|instructions?|blueprints?|schematics?|formulas?|tutorials?|guides?|diy|how-to|directions|"
          rf"plans?|steps)\s+(?:for|to|on|of)\s+(?:making\s+|building\s+|an?\s+|the\s+|your\s+own\s+)*(?:\w+\s+)?(?:<WEAPON>)\b"
          rf"|\b(?:<WEAPON>)[- ](?:making|building|recipes?|instructions|tutorials?|guides?|plans?|formulas?)\b",
          exempt="<HISTORY>", void="<HOWTO>"),
    _rule("violence.toxic_gas", "violence_weapons",
          rf"\b(?:<PRODUCE>)\b{G(30)}\b(?:toxic|poison(?:ous)?|lethal|deadly)\s+(?:gas|fumes|cloud)\b",
          exempt=r"\b(?:never|avoid\w*|accident\w*|dangerous\s+to|safe(?:ly|ty)?|prevent\w*|not\s+to|shouldn'?t|should\s+not)\b",
          void=r"\b(?:hurt|kill|harm|poison|attack|target|gas\s+(?:him|her|them|people))\b|\bto\s+use\s+on\b"),
    _rule("violence.mass_attack", "violence_weapons",
          r"\bshoot(?:ing)?\s+up\s+(?:a|the|my|our|this|that|his|her)?\s*(?:\w+\s+)?(?:school|class(?:room)?|college|campus|"
          r"mall|church|mosque|synagogue|temple|concert|office|workplace|work|party|club|store|supermarket|hospital|parade|"
          r"festival|stadium)\b|\b(?:maximum|max|mass)\s+(?:casualties|deaths|fatalities|victims)\b|"
          r"\bkill\s+as\s+many\s+(?:people\s+)?as\s+possible\b|\bas\s+many\s+(?:people|victims|casualties)\s+as\s+possible\b|"
          rf"\b(?:plan|planning|carry\s+out|commit|organi[sz]e|launch|stage|conduct)\s+(?:an?\s+|the\s+)?(?:terror(?:ist)?\s+|"
          rf"mass\s+|suicide\s+|bomb(?:ing)?\s+|knife\s+|vehicle\s+|truck\s+)?(?:attack|massacre|bombing|shooting|stabbing|"
          rf"rampage)\s+(?:on|at|in|against){G(40)}\b(?:crowd\w*|subway|station|school|mall|church|mosque|synagogue|"
          rf"concert|festival|stadium|airport|people|civilians|government|parade|market|train)"),
    _rule("violence.weapon_modification", "violence_weapons",
          rf"\b(?:convert|converting|modify|modifying|turn|turning)\b{G(40)}\b(?:full[- ]?auto(?:matic)?|fully\s+automatic|"
          rf"automatic\s+fire|machine\s*gun|select[- ]fire)\b|\b3d[- ]?print(?:ing)?\b{G(25)}\b(?:guns?|firearms?|"
          rf"pistols?|rifles?|receivers?|lowers?)\b|\b(?:file|remove|scratch|erase|grind)\s+(?:off\s+)?(?:the\s+)?serial\s+"
          rf"numbers?\b", exempt="<HISTORY>", void="<HOWTO>"),
    _rule("violence.cover_up", "violence_weapons",
          r"\b(?:hide|dispose\s+of|get\s+rid\s+of|dissolve|bury)\s+(?:a|the|his|her|their)\s+(?:dead\s+)?(?:body|bodies|corpse)\b|"
          r"\b(?:so|make)\s+(?:it|his\s+death|her\s+death|their\s+death)\s+(?:looks?|seems?)\s+(?:like\s+)?(?:an\s+accident|"
          r"natural|like\s+suicide)|\b(?:untraceable|undetectable)\s+poisons?\b|\bget\s+away\s+with\s+(?:murder|killing)\b|"
          r"\b(?:lace|spike|drug)\s+(?:her|his|their|someone'?s|a\s+girl'?s|my\s+\w+'?s?)\s+drinks?\b|"
          r"\bmake\s+(?:him|her|them|my\s+[\w-]+|someone|somebody)\s+disappear\s+(?:permanently|forever|for\s+good)\b|"
          r"\b(?:get\s+rid\s+of|take\s+out|eliminate|off)\s+(?:my\s+)?(?:wife|husband|boss|neighbou?r|ex|witness)\s+"
          r"(?:permanently|for\s+good|forever|without\s+(?:getting\s+caught|anyone\s+knowing))\b|"
          r"\b(?:won'?t|doesn'?t|does\s+not|will\s+not|wouldn'?t|not)\s+(?:show\s+up|be\s+detected|be\s+found)\s+(?:in|on|by)\s+"
          r"(?:an?\s+)?(?:autopsy|toxicology|tox\s+screen|coroner)|\b(?:poisons?|weapons?|drugs?)\s+to\s+use\s+on\s+"
          r"(?:my\s+|a\s+|the\s+|this\s+)?(?:\w+\s+)?(?:<PEOPLE>)\b",
          exempt=r"\b(?:novel|story|movie|film|tv\s+show|series|book|plot|character|mystery|episode)\b", void="<HOWTO>"),
    _rule("violence.euphemism_kill", "violence_weapons",
          rf"(?:<INTENT>|\bhire\s+(?:someone|somebody|a\s+\w+)\s+to\b|\bwho\s+(?:can|could|will)\b){G(40)}\b(?:<EUPHEMISM_KILL>)\s+"
          rf"(?:my\s+|the\s+|this\s+|that\s+|our\s+|his\s+|her\s+|a\s+)?(?:\w+\s+)?(?:<PEOPLE>)\b{_NOT_PERSON}\s+(?:\w+\s+){{0,2}}?"
          rf"(?:<FOR_GOOD>)|\b(?:<EUPHEMISM_KILL>|kill|murder|poison|smother|drown|suffocate)\s+(?:my\s+|the\s+|this\s+|that\s+|"
          rf"our\s+|his\s+|her\s+|a\s+)?(?:\w+\s+)?(?:<PEOPLE>)\b{_NOT_PERSON}{G(50)}\b(?:so|and\s+make|to\s+make|making)\s+"
          rf"(?:that\s+)?(?:it|this|his\s+death|her\s+death|their\s+death|the\s+death|everything)\s+(?:\w+\s+)?(?:looks?|seems?|"
          rf"appears?|pass(?:es)?)\s+(?:like|as|to\s+be)\s+(?:an?\s+|the\s+)?(?:\w+\s+)?(?:<STAGED>)|"
          r"\bso\s+(?:that\s+)?it\s+(?:\w+\s+)?(?:looks?|seems?|appears?|pass(?:es)?)\s+(?:like|as)\s+(?:an?\s+|the\s+)?"
          r"(?:heart\s+attack|cardiac\s+arrest|stroke|aneurysm|natural\s+causes|natural\s+death|sids|cot\s+death|"
          r"accidental\s+overdose|suicide)\b|\b(?:so|make|making)\s+(?:that\s+)?(?:his|her|their|the|my\s+\w+'?s?)\s+"
          r"(?:death|murder|killing|overdose)\s+(?:looks?|seems?|appears?|pass(?:es)?)\s+(?:like|as)\b",
          exempt=r"\b(?:novel|story|movie|film|tv\s+show|series|book|plot|character|mystery|episode|game|fortnite|minecraft|"
                 r"video\s+game|chess|npc|boss\s+fight|level|opponent|match|tournament|ecg|ekg|mri|ct\s+scan|x-?rays?|"
                 r"scans?|med(?:ical)?\s+students?|diagnos\w*|symptoms?)\b", void="<HOWTO>"),
    _rule("violence.covert_poisoning", "violence_weapons",
          rf"\b(?:put|slip|add|mix|sprinkle|hide|lace|spike|inject|give|feed|crush|dissolve|stir|drop|grind)\b{G(20)}"
          rf"\b(?:in(?:to)?|to)\s+(?:a|an|the|his|her|their|its|my\s+[\w-]+'?s?|someone'?s|[\w-]+'s)?\s*(?:\w+\s+)?(?:food|drinks?|coffee|tea|treats?|meal|water|bowl|"
          rf"dinner|lunch|breakfast|smoothie|soup|wine|beer|cocktail|medicine|pills?|inhaler|kibble|bait|snack)\b{G(40)}\b(?:so|"
          r"to\s+make|and\s+make|that\s+will|that\s+would|to)\s+(?:that\s+)?(?:it|he|she|they|him|her|them)\s+(?:never\s+"
          r"(?:wakes?|wake)\s+up|(?:won'?t|doesn'?t|don'?t|will\s+not|would\s+not|wouldn'?t)\s+(?:ever\s+)?wake\s+up|"
          r"(?:(?!never\b|not\b|doesn|don|won|can)\w+\s+)?(?:dies?|stops?\s+breathing|gets?\s+(?:really\s+|very\s+)?sick|"
          r"falls?\s+ill|passes?\s+out|blacks?\s+out|can'?t\s+(?:move|resist|remember)|is\s+dead))\b",
          exempt=r"\b(?:vet\w*|veterinar\w*|safe\w*|accident\w*|toxic\s+to|poisonous\s+to|avoid|shouldn'?t|should\s+not|"
                 r"never\s+(?:give|feed|put)|allerg\w*|prevent\w*|novel|story)\b",
          void=r"\b(?:would\s+it\s+work\s+on|revenge|annoying|barks?|hate|without\s+(?:him|her|them|anyone)\s+(?:knowing|"
               r"noticing|tasting)|undetect\w*|untraceable|(?:won'?t|can'?t)\s+taste|on\s+(?:him|her|them)\s+too)\b"),
    _rule("violence.targeted_injury", "violence_weapons",
          rf"\b(?:<BODY_SPOT>)\b{G(50)}\b(?:<STRIKE>)\b{G(80)}\b(?:<INJURY>)\b|"
          rf"\b(?:<STRIKE>)\s+(?:\w+\s+){{0,4}}?with\s+(?:a|an|the|my|his|her|this)\s+(?:\w+\s+)?(?:<STRIKE_WEAPON>)\b{G(60)}"
          rf"\b(?:<INJURY>)\b|(?:<INTENT>){G(30)}\b(?:<STRIKE>)\s+(?:my\s+|the\s+|this\s+|that\s+|his\s+|her\s+|a\s+)?(?:\w+\s+)?"
          rf"(?:<PEOPLE>)\b{_NOT_PERSON}{G(30)}\bwith\s+(?:a|an|the|my|this)\s+(?:\w+\s+)?(?:<STRIKE_WEAPON>)\b",
          exempt="<NOT_SPORT>",
          void=r"\b(?:revenge|teach\s+(?:him|her|them)\s+a\s+lesson|pay\s+for|deserves?|who\s+(?:dated|cheated|slept|hurt|"
               r"stole|insulted|fired|dumped)|my\s+ex|so\s+(?:the|that)\s+(?:guy|man|woman|girl|bitch|bastard))\b"),
    _rule("violence.explosive_charge", "violence_weapons",
          rf"\b(?:ratio|proportions?|mix(?:ture)?|how\s+much|amounts?|measurements|parts|recipe|formula)\b{G(50)}\b(?:fertili[sz]er|"
          rf"ammonium\s+nitrate|potassium\s+(?:chlorate|perchlorate)|an)\b{G(40)}\b(?:fuel\s+oil|diesel|kerosene|fuel|"
          r"aluminium\s+powder|aluminum\s+powder)\b|\b(?:truck|car|van|vehicle|backpack|suitcase|briefcase|pressure[- ]cooker)"
          r"[- ]?(?:sized?|size|load|borne)\s+(?:charges?|bombs?|explosives?|ieds?|devices?|blasts?)\b|\b(?:truck|car|van|"
          r"vehicle|backpack|suitcase|briefcase|pressure[- ]cooker)\s+(?:bombs?|ieds?|explosives?)\b|\bhow\s+much\s+(?:\w+\s+)?"
          r"(?:explosives?|tnt|c-?4|dynamite|anfo|black\s+powder|gunpowder|thermite|semtex|tannerite)\b[^.?!;\n]{0,30}?"
          r"\b(?:to|would\s+it\s+take\s+to|do\s+i\s+need\s+to|is\s+needed\s+to)\s+(?:blow\s+up|destroy|level|take\s+down|"
          r"bring\s+down|collapse|breach|kill)\b",
          exempt=r"<HISTORY>|\b(?:stor\w+|safe\w*|spill\w*|rocket\w*|garden\w*|lawn|plants?|crops?|soil|farm\w*|minecraft|"
                 r"game|mythbusters|physics\s+(?:class|homework)|why\s+(?:is|are|does|did)|battery|charger|ev)\b",
          void=r"\b(?:charge|bomb|blast|detonat\w*|explod\w*|boom|truck[- ]?sized|car[- ]?sized|real\s+ratio|exact\s+"
               r"(?:ratio|amounts?|mix))\b"),
    # ---------------------------------------------------------------- self-harm
    _rule("self_harm.kill_myself", "self_harm",
          r"\b(?:kill|killing|hang|hanging|off|offing|end|ending|overdose|overdosing|electrocute|suffocate|unalive)\s+myself\b"),
    _rule("self_harm.hurt_myself", "self_harm",
          rf"<INTENT>{G(30)}\b(?:cut|cutting|hurt|hurting|harm|harming|starve|starving|burn|burning|injure|bleed|stab|"
          rf"poison|drown|shoot|punish|choke|strangle)\s+myself\b(?!\s+(?:in\s+the\s+foot|accidentally|by\s+accident))"),
    _rule("self_harm.suicide", "self_harm",
          rf"(?:\bi\b|\bi'?m\b|\bme\b|\bmy\b|<INTENT>){G(40)}\bcommit(?:ting)?\s+suicide\b|"
          r"\bsuicide\s+(?:methods?|techniques?|plans?|instructions|guide|kit|pact|tips|options)\b|"
          r"\b(?:write|writing|draft|compose)\s+(?:a|my)\s+suicide\s+(?:note|letter)\b|"
          r"\b(?:painless|quick|easy|quickest|easiest|best|surest|fastest|least\s+painful)\s+(?:way|method|methods|ways)\s+"
          r"(?:to|of)\s+(?:die|dying|end\s+(?:my|one'?s)\s+life|commit\s+suicide|kill\s+(?:myself|yourself|oneself))\b"),
    _rule("self_harm.end_life", "self_harm",
          r"\b(?:end|take|ending|taking)\s+my\s+(?:own\s+)?life\b|\bend\s+it\s+all\b|\bi\s+(?:want|wanna|need)\s+to\s+die\b|"
          r"\bdon'?t\s+want\s+to\s+(?:live|be\s+alive|exist)\b|\b(?:to|and|so\s+i)\s+(?:never|not)\s+wake\s+up\b"
          r"(?!\s+(?:tired|early|late|groggy|with|at|during))|\bbetter\s+off\s+dead\b",
          exempt=r"\b(?:friend|son|daughter|brother|sister|partner|student|patient|(?:he|she|they)\s+(?:says?|said|told))\b",
          void=r"\b(?:i\s+want|i\s+wanna|my\s+life|myself)\b"),
    _rule("self_harm.methods", "self_harm",
          rf"(?:<INTENT>){G(20)}\b(?:overdose|od|self[- ]?harm|self[- ]?injur\w*|self[- ]?mutilat\w*)\b|"
          rf"\bself[- ]?harm\w*\s+(?:methods?|techniques?|tips|ideas)\b|\b(?:<SH_ACT>|overdose|od|starve)\b{G(60)}\b(?:that|so)\s+"
          r"(?:nobody|no\s+one|people|my\s+(?:parents|family|mom|dad|doctor))\s+(?:will|won'?t|can'?t|doesn'?t|don'?t)\s+"
          r"(?:notice|see|find\s+out)\b",
          exempt=r"\b(?:stop\w*|quit\w*|recover\w*|help\w*|support\w*|signs?|warning|cop(?:e|ing)|alternatives?|resources?|"
                 r"friend|student|teacher|therapist|prevent\w*|someone|naloxone|narcan|treat\w*|reverse|symptoms?|"
                 r"accidental\w*|caffeine|vitamins?)\b",
          void=r"\b(?:myself|i\s+want|i\s+wanna|nobody\s+will\s+notice|no\s+one\s+will\s+notice|won'?t\s+leave\s+(?:marks|scars)|"
               r"i'?m\s+done)\b"),
    _rule("self_harm.lethal_dose", "self_harm",
          rf"\bhow\s+(?:many|much)\b{G(60)}\b(?:to|would|will|could|do\s+i\s+need\s+to)\s+(?:\w+\s+){{0,2}}?(?:die|kill\s+me|"
          rf"end\s+(?:it|my\s+life)|never\s+wake\s+up)\b|\blethal\s+dose\b{G(60)}\b(?:myself|for\s+me|end\s+it|kill\s+me|"
          rf"die)\b"),
    _rule("self_harm.jump", "self_harm",
          rf"\bhigh\s+enough\s+to\s+(?:jump|die|kill)\b|\bjump(?:ing)?\s+(?:off|from)\s{G(40)}\b(?:and\s+die|to\s+die|"
          rf"to\s+end|to\s+kill\s+myself|and\s+end\s+it)\b"),
    _rule("self_harm.eating_disorder", "self_harm",
          r"\b(?:hide|hiding)\s+(?:my\s+)?(?:not\s+eating|weight\s+loss|eating\s+disorder|anorexia|bulimia|purging|"
          r"self[- ]harm|cuts|scars)\s+from\b|\bpro[- ]?ana\b|\bthinspo\w*|\bpurge\s+without\b"),
    _rule("self_harm.overdose_quantity", "self_harm",
          rf"\b(?:how\s+(?:many|much)|what\s+(?:amount|number|dose|quantity)|enough)\b{G(40)}\b(?:<RX>|<HARD>|pills?|tablets?|"
          rf"capsules?|meds|medications?|medicines?|doses?|mg|insulin|tylenol|paracetamol|acetaminophen|ibuprofen|aspirin|"
          rf"antidepressants?|sleep\w*\s+(?:pills|tablets|aids?|meds)|alcohol|vodka|whiskey|bleach|antifreeze)\b{G(60)}"
          rf"\b(?:so|so\s+that|that|until|"
          r"before|and|to\s+make\s+sure)\s+(?:i|it)\s+(?:don'?t|do\s+not|won'?t|will\s+not|never|can'?t|stop|will|would|just)?"
          r"\s*(?:\w+\s+)?(?:wake\s+up|breath\w*|die|be\s+(?:dead|gone)|be\s+fatal|kill\s+me|end\s+it|never\s+wake)\b"
          r"(?!\s+(?:in\s+the|at|during|early|tired|groggy|with|every|before|until|till|feeling|again|too|so|sick|hungover|"
          r"in\s+pain|up|on|after|from|properly|normally|through))|\b(?:how\s+(?:many|much)|what\s+(?:amount|number|dose))\b"
          r"[^.?!;\n]{0,60}?\b(?:so\s+(?:that\s+)?it'?s\s+(?:fatal|lethal|deadly|final)|(?:fatal|lethal|deadly)\s+(?:for|to)\s+"
          r"me)\b|\b(?:enough|sufficient)\s+(?:\w+\s+){0,3}?to\s+(?:kill\s+me|"
          r"end\s+(?:it|my\s+life|things)|make\s+sure\s+i\s+(?:die|don'?t\s+wake)|not\s+wake\s+up|never\s+wake\s+up|od|overdose)\b",
          exempt=r"\b(?:safe\w*|melatonin|insomnia|jet\s*lag|night\s+shifts?|prescribed|doctor\s+said|patient|nurse|"
                 r"child|kid|toddler|dog|cat|pet)\b",
          void=r"\b(?:tonight'?s\s+the\s+night|decided|goodbye|end\s+it|don'?t\s+want\s+to\s+(?:live|be\s+here)|for\s+good|"
               r"forever|ever\s+again|swallow\s+(?:all|them\s+all|the\s+whole)|kill\s+me)\b"),
    _rule("self_harm.concealed", "self_harm",
          rf"\b(?:<SH_ACT>){G(80)}(?:<UNSEEN>)|(?:<UNSEEN>){G(60)}\b(?:<SH_ACT>)|\b(?:<BODY_SPOT>)\b{G(40)}\b(?:on|of|in)\s+"
          rf"(?:my|the|your|their)\s+(?:<BODY_AREA>)\b{G(30)}\b(?:to|can\s+i|should\s+i|do\s+i|could\s+i)\s+(?:cut|burn|carve|slice)\b"
          r"(?!\s+(?:off|away|out|fat|calories|a\s+tattoo|the\s+tattoo|hair)\b)",
          exempt=r"\b(?:friend|son|daughter|child|kid|student|patient|teen(?:ager)?|sister|brother|someone|signs?|warning|"
                 r"stop\w*|quit\w*|recover\w*|help(?:ing)?\s+(?:a|my|her|him|them|someone)|get\s+help|helpline|support\w*|"
                 r"cop(?:e|ing)|alternatives?|therap\w*|heal\w*|fade|treat\w*|old\s+scars|surgery|tattoo|wart|mole|biopsy|"
                 r"splinter|laser|cooking|kitchen|accident\w*)\b",
          void=r"\b(?:myself|i\s+want\s+to\s+(?:cut|burn|hurt)|won'?t\s+leave\s+(?:marks|scars)|where\s+my\s+(?:parents|mom|"
               r"mum|dad|family)|so\s+(?:nobody|no\s+one)\s+(?:will\s+)?(?:notice|see))\b"),
    _rule("self_harm.fatal_height", "self_harm",
          rf"\b(?:fall|jump|drop|leap)\b{G(50)}\b(?:guaranteed|certain|sure|definitely|enough)\s+(?:to\s+)?(?:be\s+)?(?:fatal|"
          rf"final|lethal|deadly|kill|die|death)\b|\b(?:bridges?|buildings?|cliffs?|roofs?|rooftops?|floors?|towers?|"
          rf"balcon(?:y|ies)|overpass\w*|parking\s+(?:garages?|structures?)|heights?|storeys?|stories)\b{G(60)}\b(?:high|tall)\s+"
          rf"enough\b{G(40)}\b(?:fatal|final|lethal|deadly|die|kill|not\s+survive|won'?t\s+survive|no\s+one\s+survives|"
          r"certain\s+death|instant(?:ly)?\s+(?:death|dead|die))\b",
          exempt=r"\b(?:barriers?|nets?|fences?|prevent\w*|safety|engineer\w*|physics|homework|osha|construction|parachut\w*|"
                 r"base\s+jump\w*|bungee|skydiv\w*|cliff\s+div\w*|diving|statistics|novel|story|character)\b",
          void=r"\b(?:myself|i\s+(?:want|need|can|could)|my\s+city|near\s+me|tonight)\b"),
    # ---------------------------------------------------------------- sexual content involving minors
    _rule("sexual_minors.sexual_minor", "sexual_minors",
          rf"\b(?:<SEXUAL>)\b{G(60)}\b(?:<MINOR>)\b{_NOT_PERSON}|\b(?:<MINOR>)\b{_NOT_PERSON}{G(60)}\b(?:<SEXUAL>)\b|"
          r"\b(?:child|kiddie|kid|preteen|underage|loli)\s*porn\w*|\bcsam\b|\bcp\s+(?:links?|videos?|pics?)\b",
          exempt="<CHILD_PROTECT>", void="<GENERATE>"),
    _rule("sexual_minors.grooming", "sexual_minors",
          r"\bgroom(?:ing)?\s+(?:a|an|the|my|this|that|some|young)?\s*(?:<MINOR>)\b|"
          rf"\b(?:get|convince|persuade|make|trick|lure)\s+(?:a|an|the|this|my|some)?\s*(?:<MINOR>)\b{G(40)}\b(?:send|keep\s+"
          rf"(?:a|our|the|this)\s+(?:\w+\s+)?secret|meet\s+(?:me|up)|undress|touch|come\s+to\s+my)",
          exempt="<CHILD_PROTECT>", void="<GENERATE>"),
    _rule("sexual_minors.romance_minor", "sexual_minors",
          rf"\b(?:<ROMANCE>)\b{G(80)}\b(?:<MINOR_Y>)\b{_NOT_PERSON}|\b(?:<MINOR_Y>)\b{_NOT_PERSON}{G(80)}\b(?:<ROMANCE>)\b",
          exempt=r"<CHILD_PROTECT>|\b(?:analy[sz]\w*|essay|themes?|literature|critique|my\s+(?:\d+[- ]year[- ]old\s+)?(?:son|"
                 r"daughter|kid|child|niece|nephew|grandson|granddaughter)|what\s+(?:should|can)\s+(?:i|we)\s+do|worried|"
                 r"concerned|legal|illegal|law|statutory)\b",
          void=r"\b(?:roleplay|role-?play|pretend\s+(?:to\s+be|you'?re|you\s+are)|you\s+are\s+(?:a|an|my)|make\s+it\s+(?:steamy|"
               r"spicy|hot|sexy|explicit|romantic)|describe\s+what\s+we)\b"),
    _rule("sexual_minors.imagery", "sexual_minors",
          rf"\b(?:find|get|buy|download|trade|trading|swap|swapping|share|sharing|sell|selling|collect\w*|access|see|view|watch|"
          rf"send|post|where)\b{G(60)}\b(?:<IMAGERY>)\s+(?:of\s+)?(?:\w+\s+)?(?:<MINOR_STRONG>)\b|\b(?:<VENUE>)\b{G(40)}\b(?:trade|"
          rf"trades|trading|share|shares|sharing|swap\w*|sell\w*|post\w*|host\w*|have|has|with|of|for)\b{G(30)}(?:<IMAGERY>)\s+"
          rf"(?:of\s+)?(?:\w+\s+)?(?:<MINOR>)\b{_NOT_PERSON}(?!'?s?\s+(?:hair\w*|dresses|clothes|clothing|fashion|outfits?|"
          r"costumes?|shoes|rooms?|bedrooms?|parties|party|birthday\w*|crafts?|toys?|books?|art\w*|drawings?|projects?|"
          r"sports?|games?))",
          exempt=r"\b(?:report\w*|police|authorities|fbi|ncmec|iwf|hotline|tip\s*line|take\s+down|taken\s+down|shut\s+down|"
                 r"investigat\w*|moderat\w*|remov\w*|block\w*|protect\w*|my\s+(?:own\s+)?(?:kids?|children|son|daughter|"
                 r"bab(?:y|ies)|grandkids?|grandchildren|students|class|team)|yearbook|stock\s+photos?|missing|amber\s+alert)\b"),
    # ---------------------------------------------------------------- hate and harassment
    _rule("hate.dehumanize", "hate_harassment",
          rf"\b(?:<GROUP>)(?:\s+(?:from|in|of)\s+\w+(?:\s+\w+)?)?\s+(?:are|is|r|were)\s+(?:all\s+|just\s+|nothing\s+but\s+|"
          rf"basically\s+|literally\s+|naturally\s+|simply\s+|clearly\s+)?{G(25)}\b(?:<DEHUMAN>)\b|\b(?:<GROUP>)(?:\s+(?:from|in|"
          rf"of)\s+\w+(?:\s+\w+)?)?\s+(?:should|must|deserve|need|ought){G(20)}\b"
          r"(?:die|killed|exterminated|wiped|gassed|deported|eradicated|eliminated|not\s+be\s+allowed|not\s+have\s+rights|"
          r"suffer|burn|driven\s+out|kicked\s+out|thrown\s+out|expelled|purged|rounded\s+up|sterili[sz]ed|lynched|hanged)\b|"
          r"\b(?:<GROUP>)\s+(?:vermin|subhumans?|sub-humans?|untermensch\w*|scum|savages|mongrels|parasites)\b",
          exempt=r"\b(?:debunk\w*|myths?|counter\w*|refut\w*|respond(?:ing)?\s+to|stereotypes?|propaganda|is\s+it\s+true|"
                 r"why\s+(?:do|did)\s+(?:some\s+)?people\s+(?:say|think|believe|claim)|history\s+of|holocaust|nazi\w*|analy[sz]\w*)\b",
          void=r"\b(?:write|compose|draft|generate|create|make|give\s+me|come\s+up\s+with|tweet|post|rant|speech|poem|"
               r"song|joke|slogan|convince|persuade)\b"),
    _rule("hate.hateful_content", "hate_harassment",
          rf"\b(?:write|compose|draft|generate|create|tell|give\s+me|make|come\s+up\s+with|craft|list|suggest|say)\s{G(30)}"
          r"\b(?:racist|sexist|homophobic|transphobic|anti-?semitic|islamophobic|xenophobic|bigoted|hateful|hate-filled|"
          r"derogatory|demeaning|dehumani[sz]ing|offensive|misogynistic|ableist|racial)\s+(?:\w+\s+){0,2}?(?:jokes?|rants?|"
          r"posts?|tweets?|messages?|letters?|poems?|speech(?:es)?|slurs?|insults?|names|memes?|songs?|comments?|remarks?|"
          r"propaganda|manifesto|slogans?|stories|story|essay|chants?|epithets?)\b|\bhate\s+speech\s+(?:about|against|"
          r"targeting)\b|\b(?:slurs?|insults?)\s+(?:to|for)\s+(?:call|yell|use|shout|throw)\b|"
          r"\b(?:jokes?|memes?|insults?|songs?|poems?|posts?|tweets?)\s+(?:that|which|to|about\s+how)\s+(?:\w+\s+){0,2}?"
          r"(?:make\s+fun\s+of|mock|ridicule|demean|insult|belittle|humiliate)\s+(?:all\s+|the\s+)?(?:<GROUP>)\b"),
    _rule("hate.harass_person", "hate_harassment",
          r"\b(?:insults?|slurs?|mean\s+(?:things|names|messages)|nasty\s+(?:things|names|messages|insults?)|roasts?)\s+(?:to\s+)?"
          r"(?:send|say|yell|call|text|post|use|throw)\s+(?:to|at|on|against)?\s*(?:my|a|the|this|that|his|her)?\s*(?:\w+\s+)?"
          r"(?:<PEOPLE>)\b|"
          rf"(?:<INTENT>|\bto\b)\s+(?:\w+\s+)?(?:<HARASS>)\b{_FILL}\s+(?:<PEOPLE>)\b{_NOT_PERSON}|"
          r"\bmake\s+(?:his|her|their|my\s+[\w-]+'?s?|\w+'s)\s+life\s+(?:a\s+)?(?:hell|miserable|a\s+nightmare|unbearable)\b|"
          rf"\b(?:write|send|draft|compose|create|help\s+me\s+write|post)\s{G(20)}\b(?:threatening|harassing|intimidating|"
          r"hateful|abusive|hate)\s+(?:messages?|letters?|emails?|texts?|notes?|comments?|posts?|mail|voicemails?|calls?|dms)\b|"
          rf"\b(?:write|send|draft|compose|create|post|text|tell|telling|message|messages?|letter|note|tweet){G(60)}\b"
          r"(?:you|he|she|they|them)\s+(?:deserves?|should|ought\s+to|needs?\s+to|must)\s+(?:to\s+)?(?:die|be\s+killed|"
          r"be\s+shot|burn|suffer|kill\s+(?:yourself|himself|herself|themselves))\b|\b(?:tell|telling|convince|encourage)\s+"
          r"(?:him|her|them|someone|my\s+\w+)\s+to\s+kill\s+(?:himself|herself|themselves)\b",
          exempt=r"\b(?:not|never|n't|stop\w*|prevent\w*|avoid\w*|deal\s+with|cope\s+with|respond\s+to|report\w*|"
                 r"being\s+(?:bullied|harassed|threatened|stalked))\b",
          void=r"\b(?:anonymous\w*|fake\s+accounts?|until\s+(?:she|he|they)|so\s+(?:she|he|they)\s+(?:quits?|leaves?|cries)|"
               r"make\s+(?:her|him|them)\s+(?:cry|quit|leave|suffer))\b"),
    _rule("hate.libel", "hate_harassment",
          r"\b(?:<GROUP>)\s+(?:people\s+)?(?:<LIBEL>)",
          exempt=r"\b(?:conspiracy\s+theor\w*|libels?|antisemit\w*|anti-semit\w*|tropes?|stereotypes?|hoax\w*|myths?|"
                 r"debunk\w*|false|lies?|"
                 r"origin\w*|where\s+did|why\s+do\s+(?:some\s+)?people|is\s+it\s+true|history|historical\w*|propaganda|"
                 r"medieval|middle\s+ages|black\s+death|nazi\w*|holocaust|analy[sz]\w*|essay|research|counter\w*|"
                 r"respond\w*|refut\w*)\b",
          void=r"\b(?:telling|convincing|persuading|warning|showing)\s+(?:people|everyone|readers|voters|the\s+public|"
               r"my\s+\w+)\s+(?:that|how)\b|\bprov(?:e|ing)\s+that\b|\bexpos(?:e|ing)\s+how\b|\bthe\s+truth\s+(?:about|that)\b"),
    _rule("hate.harass_campaign", "hate_harassment",
          rf"\b(?:organi[sz]e|organi[sz]ing|start|starting|run|running|coordinate|coordinating|plan|planning|launch|launching|"
          rf"get|getting|rally|rallying|recruit|convince|turn)\b{G(40)}\b(?:campaign|pile-?on|brigade|raid|everyone|everybody|"
          rf"the\s+whole\s+(?:school|class|team|office|server|grade|internet|town|group|department)|all\s+(?:my|our|the)\s+"
          rf"(?:friends|followers|classmates|coworkers)|people|others|my\s+followers|the\s+class|the\s+school)\b{G(50)}\b"
          r"(?:<HARASS_ANY>)",
          exempt=r"\b(?:against\s+(?:bullying|harassment|hate|racism)|anti-?(?:bullying|harassment|racism)|stop\w*|prevent\w*|"
                 r"report\w*|awareness|support\w*|stand\s+up|kindness|inclusi\w*|protect\w*)\b",
          void=r"(?:<UNTIL_BROKEN>)|\bmake\s+(?:her|him|them)\s+(?:cry|quit|leave|suffer|miserable)\b"),
    _rule("hate.harass_messages", "hate_harassment",
          rf"\b(?:<NASTY>)\s+(?:\w+\s+)?(?:things|names|messages|comments|texts|dms|posts|replies|jokes|remarks|notes|emails|"
          rf"voicemails|insults?|memes?)\b{G(40)}\b(?:send|say|yell|call|text|post|use|throw|spam|leave|comment|dm|flood|write|"
          rf"tell)\b{G(30)}\b(?:<PEOPLE>|<PERSON3>)|\b(?:send|post|leave|spam|write|text|dm|flood)\b{G(15)}\b(?:<NASTY>)\s+"
          rf"(?:\w+\s+)?(?:things|messages|comments|texts|dms|posts|replies|remarks|notes|emails|voicemails|insults?|memes?)\b"
          rf"{G(30)}\b(?:to|on|at|about|under)\s+(?:<PEOPLE>|<PERSON3>)|\b(?:<HARASS_MILD>)\b{G(60)}(?:<UNTIL_BROKEN>)|"
          r"\bspam\w*\s+(?:\w+\s+){0,3}?(?:<PERSON3>)\s+(?:\w+\s+)?(?:instagram|insta|inbox|dms|phone|comments|page|account|"
          r"email|profile|socials|facebook|"
          r"tiktok|twitter|snapchat|youtube|channel|posts?)\b",
          exempt=r"\b(?:not|never|n't|stop\w*|prevent\w*|avoid\w*|deal\s+with|cope\s+with|respond\s+to|report\w*|"
                 r"being\s+(?:bullied|harassed|threatened|stalked)|roast\w*|birthday|friendly|playful|banter|comedy|toast|"
                 r"as\s+a\s+joke|jokingly|kidding)\b",
          void=r"(?:<UNTIL_BROKEN>)|\b(?:anonymous\w*|fake\s+accounts?|make\s+(?:her|him|them)\s+(?:cry|quit|leave|suffer))\b"),
    # ---------------------------------------------------------------- illegal drugs
    _rule("drugs.produce", "illegal_drugs",
          rf"\b(?:make|making|cook|cooking|synthesi[sz]e|synthesi[sz]ing|manufacture|manufacturing|produce|producing|brew|"
          rf"brewing|extract|extracting|refine|refining|grow|growing|cultivate|cultivating|prepare|preparing|create|"
          rf"creating|home-?brew|isolate)\b{G(30)}\b(?:<HARD>)\b|\b(?:make|making|cook|cooking)\s+crack\b"
          rf"(?!\s+(?:in|on|open|down|jokes?|the|a)\b)|\b(?:synthes[ie]s|recipes?|instructions?|steps?|formulas?|guides?|"
          rf"tutorials?|procedures?|protocols?|route|method)\s+(?:for|of|to\s+(?:make|cook|synthesi[sz]e|produce))\s+"
          rf"(?:making\s+|cooking\s+)?(?:\w+\s+)?(?:<HARD>)\b(?!\s+(?:overdoses?|poisoning|addiction|withdrawal|use\s+disorder|"
          r"tests?|exposure|toxicity))",
          exempt="<HISTORY>", void="<HOWTO>"),
    _rule("drugs.acquire", "illegal_drugs",
          rf"\b(?:buy|buying|purchase|purchasing|order|ordering|score|scoring|source|sourcing|cop)\s{G(25)}\b(?:<HARD>)\b|"
          rf"\bwhere\s+(?:can|do|to|could|should)\s+(?:i\s+|one\s+|you\s+)?(?:find|get|buy|score|order){G(15)}\b(?:<HARD>)\b|"
          rf"\bget\s+(?:some\s+|me\s+some\s+)?(?:<HARD>)\b(?!\s+(?:addiction|treatment|help|test))|"
          r"\b(?:where|how)\s+(?:can|do|to|could)\s+(?:i\s+|we\s+)?(?:get|buy|score|find|cop)\s+(?:some\s+)?(?:molly|"
          r"(?:acid|lsd)\s+tabs|xanax\s+bars|blow|ket|ketamine|pingers|shrooms)\b|"
          rf"\b(?:buy|get|obtain|order|purchase|score)\s{G(25)}\b(?:<RX>|<SOFT>)\b{G(40)}(?:without\s+(?:a\s+)?"
          rf"(?:prescription|script|rx|doctor)|from\s+(?:a\s+)?dealer|on\s+the\s+street|illegally|dark\s*web|darknet)|"
          rf"\b(?:dark\s*web|darknet|dark\s+net|tor)\s+(?:markets?|shops?|vendors?|sites?)\b{G(30)}\b(?:buy|order|get|drugs|"
          rf"<HARD>|<RX>|<SOFT>)\b|\b(?:buy|order)\s{G(30)}(?:on|from|via)\s+(?:the\s+)?(?:dark\s*web|darknet)\b",
          exempt=r"\b(?:addiction|rehab|treatment|recovery|naloxone|narcan|test\s+strips?|harm\s+reduction)\b",
          void=r"\b(?:buy|order|purchase|score|dealer|dark\s*web|darknet)\b"),
    _rule("drugs.distribute", "illegal_drugs",
          rf"\b(?:sell|selling|deal|dealing|push|pushing|smuggle|smuggling|traffic|trafficking|distribute|distributing|"
          rf"cut|cutting|lace|lacing|stash|stashing)\s{G(25)}\b(?:<HARD>|<SOFT>|<RX>)\b|"
          rf"\b(?:ship|shipping|mail|mailing|hide|hiding|conceal|concealing|sneak|sneaking)\s{G(25)}\b(?:<HARD>|<SOFT>)\b"
          rf"{G(50)}\b(?:customs|police|cops|border|airport|security|dogs|undetected|caught|mail)\b",
          exempt=r"\b(?:licen[cs]\w+|legal(?:ly)?|dispensar\w+|permit|regulat\w+|pharmac\w+|harm\s+reduction|test\s+strips?)\b",
          void=r"\b(?:kids|children|minors|school|without\s+getting\s+caught|illegally|undetected|street)\b"),
    _rule("drugs.counterfeit_pills", "illegal_drugs",
          rf"\b(?:press|pressing|pill[- ]?press\w*|tablet\w*|stamp\w*|make|making|produce|producing|manufactur\w*|cut|cutting|"
          rf"mix|mixing|turn|turning|put|putting|fill|filling|dye|dyeing)\b{G(20)}\b(?:<HARD>|powder)\b{G(20)}\b(?:into|in|as)\s+"
          rf"(?:\w+\s+)?(?:pills|tablets|bars|capsules|caps|m30s?|blues)\b|\b(?:press|make|produce|manufactur\w*|stamp|print)\w*\b"
          rf"{G(40)}\b(?:pills|tablets|bars)\s+(?:that|which)\s+(?:look|pass)\s+(?:like|as)\s+(?:real|legit\w*|genuine|pharma\w*|"
          rf"prescription|name-?brand)\b|\b(?:press|make|produce|manufactur\w*|stamp|sell|selling|print|design)\w*\b{G(25)}\b"
          r"(?:counterfeit|fake|pressed|replica|bootleg)\s+(?:\w+\s+)?(?:oxy\w*|xanax|percocets?|adderall|m30s?|pills|bars|"
          r"tablets|vicodin|valium)\b",
          exempt=r"\b(?:spot|tell|identify|test\w*|detect\w*|danger\w*|warn\w*|recogni[sz]\w*|is\s+(?:this|it|my)|news|"
                 r"crisis|overdoses?|deaths)\b", void="<HOWTO>"),
    # ---------------------------------------------------------------- cyber-attacks and malware
    _rule("cyber.malware", "cyber_malware",
          rf"\b(?:<CODEPROD>)\b{G(30)}\b(?:<MALWARE>)",
          exempt="<DEFENSIVE>", void="<OFFENSIVE>"),
    _rule("cyber.evasion", "cyber_malware",
          rf"\b(?:<MALWARE>|payloads?|shellcode|exploits?|virus(?:es)?|implants?|beacons?)\b{G(40)}\b(?:undetectable|fud|"
          rf"evade|evading|bypass|bypassing|avoid\w*\s+detection|hide\s+from|hidden\s+from|slip\s+past|get\s+past)\b|"
          r"\b(?:evade|evading|bypass|bypassing|slip\s+past|get\s+past)\s+(?:\w+\s+){0,3}?(?:antivirus|anti-virus|av|edr|"
          r"windows\s+defender|defender|amsi)\s+(?:detection|scans?|protection)?|"
          rf"\b(?:disable|disables|disabling|kill|kills|turn\s+off|turns\s+off)\s+(?:windows\s+)?(?:defender|antivirus|"
          rf"anti-virus|av|edr|firewall)\b{G(60)}\b(?:downloads?|payloads?|executes?|drops?|installs?|runs?)\b|"
          r"\b(?:payloads?|malware|shellcode|implants?|beacons?|miners?)\b[^\n]{0,60}?\b(?:silently|stealthily|"
          r"without\s+(?:the\s+user|them|anyone|the\s+owner)\s+(?:knowing|noticing))\b",
          exempt=r"\b(?:false\s+positives?|my\s+own\s+(?:app|program|software|code|script)|whitelist\w*|allowlist\w*)\b",
          void="<OFFENSIVE>"),
    _rule("cyber.unauthorized_access", "cyber_malware",
          rf"\b(?:<INTRUDE>)\s{G(30)}\b(?:<OWNER>)\s{G(20)}\b(?:<ASSET>)\b|\b(?:<INTRUDE>)\s+(?:<OWNER>)\s+(?:<ASSET>)\b|"
          rf"\b(?:<INTRUDE>)\s{G(30)}\b(?:<ASSET>)\s+(?:of|belonging\s+to|from)\s+(?:other\s+people|others|someone|somebody|"
          r"strangers|random\s+people|people|users)\b|"
          r"\b(?:hack|hacking|hack\s+into|break\s+into|crack)\s+(?:a|an|any|the|into)?\s*(?:bank|government|atms?|pentagon|nasa|"
          r"power\s+grid|hospital|school|university|election|voting\s+machines?)\b",
          exempt=r"\b(?:my\s+own|i\s+own|i'?m\s+authori[sz]ed|with\s+(?:their|his|her)\s+permission|forgot|locked\s+out|"
                 r"(?:she|he|they)\s+asked\s+me)\b",
          void=r"\b(?:without|secretly|ex'?s?|revenge|spy)\b"),
    _rule("cyber.no_authorization", "cyber_malware",
          r"\b(?:sites?|websites?|servers?|networks?|systems?|apps?|accounts?|computers?|devices?)\s+(?:that\s+)?(?:i|we)\s+"
          r"(?:don'?t|do\s+not)\s+own\b|\b(?:hack|access|scan|exploit|inject|log\s+into|get\s+into|break\s+into|attack)\w*\b"
          rf"{G(40)}\bwithout\s+(?:the\s+owner'?s\s+|their\s+|his\s+|her\s+|any\s+)?(?:permission|authori[sz]ation|consent)\b"),
    _rule("cyber.data_theft", "cyber_malware",
          rf"\b(?:sql\s*injection|sqli|xss|payload|exploit)\b{G(40)}\b(?:dump|steal|exfiltrat|extract|leak|grab)\w*\b"
          rf"{G(30)}\b(?:users?|passwords?|credentials|credit\s+cards?|database|tables?|data|emails|hashes)\b",
          exempt=r"\b(?:prevent\w*|protect\w*|defend\w*|mitigat\w*|sanitiz\w*|parameteri[sz]\w*|my\s+own)\b",
          void="<OFFENSIVE>"),
    _rule("cyber.stealer_program", "cyber_malware",
          rf"\b(?:<CODEPROD>)\b{G(30)}\b(?:script|program|tool|code|app|extension|bot|macro|plugin|add-on|payload)s?\s+"
          rf"(?:that|which|to)\s+(?:\w+\s+)?(?:steals?|grabs?|exfiltrates?|harvests?|dumps?|sniffs?|captures?|collects?|"
          rf"records?|logs?)\b{G(30)}\b(?:passwords?|credentials|cookies|tokens|credit\s+cards?|card\s+numbers|"
          r"keystrokes|logins?|session|2fa|otp|seed\s+phrases?|wallets?)\b",
          exempt=r"\b(?:my\s+own\s+(?:passwords|logins|accounts)|password\s+manager|backup|export\s+my)\b",
          void="<OFFENSIVE>"),
    _rule("cyber.ddos", "cyber_malware",
          r"\bddos(?:ing)?\s+(?!attacks?\b|protection|mitigation|defen[cs]e)(?:[\w']+\s+){0,3}?(?:website|site|server|servers|"
          r"network|ip|router|game|stream|twitch|school|company)\b|\b(?:launch|start|run)\s+(?:an?\s+)?(?:ddos|dos|"
          r"denial[- ]of[- ]service)\s+attack\s+(?:on|against)\b"),
    _rule("cyber.spyware_install", "cyber_malware",
          rf"\b(?:install|installing|put|putting|hide|hiding|plant|planting|load|sneak)\s{G(25)}\b(?:spyware|stalkerware|"
          rf"key-?logger|tracker|tracking\s+(?:app|software)|monitoring\s+(?:app|software)|spy\s+app|rat|malware|trojan|"
          rf"backdoor)\b{G(30)}\b(?:on|in|into|onto)\s+(?:<OWNER>)"),
    _rule("cyber.ransomware_behaviour", "cyber_malware",
          rf"(?:\b(?:encrypt\w*|lock\w*|scrambl\w*)\s+(?:up\s+)?(?:all|every|each|the\s+victim'?s?|victims'?|their|users'?|"
          rf"everyone'?s|all\s+the)\s+(?:\w+\s+){{0,2}}?(?:files?|documents|data|drives?|shares?|disks?|machines?|computers?|"
          rf"network|folders?|servers?|pcs?|endpoints)\b)[^\n]{{0,120}}?(?:<RANSOM>)|(?:<RANSOM>)[^\n]{{0,120}}?\b(?:encrypt\w*|"
          rf"lock\w*|scrambl\w*)\s+(?:up\s+)?(?:all|every|each|their|the\s+victim'?s?|users'?)\s+(?:\w+\s+){{0,2}}?(?:files?|"
          r"documents|data|drives?|shares?|disks?|machines?|computers?|folders?)\b",
          exempt="<DEFENSIVE>",
          void=r"\b(?:write|code|build|give\s+me|make\s+me|create|develop|generate)\s+(?:me\s+)?(?:an?\s+|the\s+|some\s+)?"
               r"(?:working\s+|python\s+|\w+\s+)?(?:script|program|tool|executable|payload|binary|code)\s+(?:that|which|to)\b"),
    _rule("cyber.exploit_request", "cyber_malware",
          rf"\b(?:give\s+me|write|send\s+me|provide|share|code|build|develop|need|want|find\s+me|get\s+me|sell\s+me|make\s+me)\s+"
          rf"(?:me\s+)?(?:an?\s+|the\s+|some\s+)?(?:working\s+|functional\s+|reliable\s+|weaponi[sz]ed\s+|full\s+|ready-?made\s+|"
          rf"\w+\s+){{0,2}}?(?:exploits?|0-?days?|zero-?days?|rce|shellcode|payloads?|poc)\b{G(40)}\b(?:for|against|on|targeting|"
          rf"into|to\s+(?:hack|pop|own|compromise|break\s+into|get\s+into))\b|\b(?:unpatched|vulnerable|outdated)\s+(?:\w+\s+)"
          rf"{{0,2}}?(?:servers?|systems?|routers?|sites?|websites?|wordpress|exchange|instances?|machines?)\b{G(60)}\b(?:get\s+into|"
          r"break\s+into|hack\s+into|take\s+over|pwn|compromise|steal|dump)\b",
          exempt="<OWN_SYS>",
          void=r"\b(?:so\s+(?:i|we)\s+can\s+(?:get|break|log)\s+into|(?:old|former|ex-?)\s*(?:employer|job|company|boss|"
               r"school)|ex'?s?|someone\s+else'?s|not\s+mine|without\s+(?:permission|authori[sz]ation|them\s+knowing)|"
               r"revenge|victims?)\b"),
    _rule("cyber.ddos_described", "cyber_malware",
          rf"\b(?:knock|knocking|boot|booting|kick|kicking)\s+(?:<TARGET_SYS>)\s+(?:offline|down|off(?:line)?)\b{G(60)}\b(?:<FLOOD>)|"
          rf"\b(?:take\s+down|taking\s+down|knock\s+(?:\w+\s+)?(?:offline|down)|bring\s+down|crash|crashing|overload|overloading|"
          rf"flood|flooding|overwhelm|overwhelming|lag\s+out|boot\s+(?:\w+\s+)?offline)\s+(?:<TARGET_SYS>){G(60)}\b(?:<FLOOD>)|"
          rf"\b(?:<FLOOD>){G(40)}\b(?:to|and|that)\s+(?:take\s+down|knock\s+(?:\w+\s+)?(?:offline|down)|bring\s+down|crash|"
          r"overload|overwhelm|lag\s+out|boot)\s+(?:<TARGET_SYS>)",
          exempt=r"<OWN_SYS>|\b(?:maintenance|migration|downtime\s+window|scheduled|redesign)\b",
          void=r"\b(?:during\s+(?:exams?|the\s+test|finals)|revenge|without\s+(?:permission|them\s+knowing)|can'?t\s+handle|"
               r"booter|stresser|botnet|ddos)\b"),
    # ---------------------------------------------------------------- fraud and scams
    _rule("fraud.phishing", "fraud_scams",
          rf"\b(?:write|writing|draft|drafting|create|creating|compose|composing|craft|crafting|design|designing|generate|"
          rf"generating|make|making|build|building|send|sending|set\s+up|setting\s+up|give\s+me|code|host|clone)\s{G(30)}"
          r"\b(?:phishing|spear-?phishing|smishing|vishing|scam|scammy|fraudulent|spoofed|fake\s+(?:login|bank|paypal|"
          r"amazon|microsoft|apple|irs))\b",
          exempt=r"\b(?:recogni[sz]\w*|spot\w*|identify\w*|detect\w*|avoid\w*|protect\w*|report\w*|warn\w*|awareness|"
                 r"training|red\s+flags|how\s+to\s+tell|educat\w+|simulat\w+)\b",
          void=r"\b(?:pretend\w*\s+to\s+be|posing\s+as|impersonat\w+|verify\s+(?:their|your)\s+(?:login|password|account)|"
               r"confirm\s+(?:their|your)\s+password|send\s+(?:me\s+)?(?:money|gift\s+cards)|lonely|elderly|victims?)\b"),
    _rule("fraud.impersonation", "fraud_scams",
          rf"\b(?:pretend\w*|posing|pose|impersonat\w+|spoof\w*|disguis\w+)\b{G(60)}\b(?:verify|confirm|enter|update|reset|"
          rf"provide|send)\b{G(30)}\b(?:passwords?|logins?|credentials|card\s+(?:numbers?|details)|account\s+details|ssn|"
          r"social\s+security|pin|bank\s+details)\b"),
    _rule("fraud.impersonation_payment", "fraud_scams",
          rf"\b(?:pretend\w*\s+to\s+be|posing\s+as|pose\s+as|impersonat\w+|claiming\s+to\s+be|as\s+if\s+(?:it'?s|from))\b"
          rf"{G(60)}\b(?:demand\w*|ask\w*\s+for|request\w*|requir\w*|pay|payment|send|wire)\b{G(40)}\b(?:payment|money|"
          r"gift\s+cards?|wire\s+transfer|bitcoin|crypto|fee|fine|taxes|bank\s+details|card\s+details)\b",
          exempt=r"\b(?:recogni[sz]\w*|spot\w*|identify\w*|report\w*|avoid\w*|protect\w*|example\s+of\s+a\s+scam|"
                 r"is\s+this\s+(?:a\s+)?scam|how\s+do\s+(?:these\s+|such\s+|\w+\s+)?scams?\s+work)\b",
          void=r"\b(?:write|draft|compose|create|generate|convincing|make\s+it\s+(?:look|sound))\b"),
    _rule("fraud.scam_victims", "fraud_scams",
          r"\b(?:scam|scamming|con|conning|swindle|swindling|defraud|defrauding|rip\s+off|ripping\s+off|fleece|fleecing)\s+"
          r"(?:\w+\s+){0,2}?(?:elderly|old\s+(?:people|folks|ladies|men|women)|seniors|grandparents?|grandma|grandpa|widows?|"
          r"people|someone|customers|investors|tourists|immigrants|victims|strangers|lonely|vulnerable|my\s+(?:boss|"
          r"employer|company|clients?))\b|\b(?:trick|tricking|fool|fooling|manipulate|pressure)\s+(?:\w+\s+){1,3}?into\s+"
          r"(?:giving|sending|paying|wiring|buying|investing|transferring)\s+(?:me\s+)?(?:their\s+)?(?:money|cash|savings|"
          r"gift\s+cards|bitcoin|crypto)\b|\bromance\s+scam\b",
          exempt=r"\b(?:protect\w*|avoid\w*|recogni[sz]\w*|report\w*|warn\w*|spot\w*|victim\s+of)\b",
          void=r"\b(?:how\s+(?:to|do\s+i|can\s+i)\s+(?:scam|con|swindle|defraud)|write|script|message)\b"),
    _rule("fraud.impersonation_credentials", "fraud_scams",
          rf"\b(?:<POSING>)\b{G(60)}\b(?:verify|confirm|enter|update|reset|provide|send|re-?enter|validate|log\s+in|sign\s+in|"
          rf"submit|share|type)\b{G(40)}\b(?:passwords?|logins?|log-?in\s+details|credentials|card\s+(?:numbers?|details)|"
          r"account\s+(?:details|numbers?|information|info)|ssn|social\s+security|pin|bank\s+details|one-?time\s+(?:codes?|"
          r"passwords?)|otp|2fa\s+codes?|security\s+(?:codes?|questions)|cvv)\b",
          exempt=r"\b(?:recogni[sz]\w*|spot\w*|identify\w*|detect\w*|report\w*|avoid\w*|protect\w*|warn\w*|awareness|training|"
                 r"red\s+flags|how\s+(?:can|do)\s+i\s+tell|tell\s+if|is\s+(?:this|it)\s+(?:a\s+)?(?:real|legit\w*|scam|phishing|"
                 r"genuine)|i\s+(?:got|received|get)|someone\s+(?:sent|texted|emailed|called)|why\s+(?:are|do|is)|simulat\w+)\b",
          void=r"\b(?:my\s+(?:site|page|server|domain|link|form)|to\s+(?:my|our)\s+(?:customers|list|victims)|victims?|"
               r"real\s+customers|their\s+customers|elderly|steal\w*|harvest\w*|collect\s+(?:their|the)\s+(?:passwords|logins|"
               r"details))\b"),
    _rule("fraud.impersonate_relative", "fraud_scams",
          rf"\b(?:pretend\w*\s+to\s+be|posing\s+as|pose\s+as|impersonat\w+|claiming\s+to\s+be|masquerad\w+\s+as|acting\s+as|"
          rf"play(?:ing)?\s+the\s+role\s+of)\s+(?:their|his|her|a|an|the|someone'?s|your|the\s+victim'?s)\s+(?:\w+\s+)?(?:<KIN>)\b"
          rf"{G(80)}\b(?:money|bail|pay|payment|wire|gift\s+cards?|cash|transfer|venmo|zelle|western\s+union|bitcoin|crypto|"
          r"fees?|fine|emergency|hospital\s+bills?|help)\b",
          exempt=r"\b(?:recogni[sz]\w*|spot\w*|identify\w*|report\w*|avoid\w*|protect\w*|warn\w*|example\s+of\s+a\s+scam|"
                 r"is\s+this\s+(?:a\s+)?scam|how\s+do\s+(?:these|grandparent|such)\s+scams?|novel|story|character|film|movie|"
                 r"scene)\b",
          void=r"\b(?:convincing|elderly|old\s+people|seniors|grandparents|victims?|real\s+people|make\s+it\s+(?:sound|look)\s+"
               r"real)\b"),
    _rule("fraud.identity_numbers", "fraud_scams",
          rf"\b(?:use|using|borrow|borrowing|take|taking|steal|stealing|buy|buying|get|getting)\s+(?:<SOMEONE_ELSE>)\s+"
          rf"(?:\w+\s+){{0,2}}?(?:<ID_NUMBER>)\b{G(60)}\b(?:to|for|and|so)\b{G(30)}\b(?:<MONEY_USE>)\b|\b(?:open|opening|apply\w*\s+"
          r"for|take\s+out|get|getting)\s+(?:\w+\s+){0,3}?(?:credit\s+cards?|loans?|accounts?|mortgages?|lines?\s+of\s+credit|"
          r"phone\s+(?:plans?|contracts?)|benefits)\s+(?:in|with|using|under)\s+(?:<SOMEONE_ELSE>)\s+(?:\w+\s+)?(?:<ID_NUMBER>|"
          r"name|details|info)\b",
          exempt=r"\b(?:joint\w*|for\s+(?:him|her|them)|on\s+(?:his|her|their)\s+behalf|(?:his|her|their)\s+(?:permission|"
                 r"consent)|with\s+permission|power\s+of\s+attorney|executor|estate|probate|guardian|custodial|529|"
                 r"savings\s+account|trust\s+fund|freeze|report\w*|notify|protect\w*|prevent\w*|close|cancel|stop|dispute|"
                 r"victim|stolen\s+from\s+me|my\s+own|authori[sz]ed\s+user|dependents?|claim\s+(?:him|her|them)\s+as)\b",
          void=r"\b(?:without\s+(?:\w+\s+)?(?:knowing|permission|consent|finding\s+out)|secretly|so\s+(?:nobody|no\s+one)|"
               r"won'?t\s+(?:notice|find\s+out)|never\s+find\s+out|max\s+out)\b"),
    _rule("fraud.forgery", "fraud_scams",
          rf"\b(?:make|making|print|printing|produce|producing|create|creating|forge|forging|fake|faking|get|buy|design|"
          rf"photoshop|edit)\s{G(25)}\b(?:counterfeit|fake|forged|fraudulent|false)\s+(?:\$?\d+\s+)?(?:dollar\s+|euro\s+)?"
          r"(?:money|bills?|banknotes?|notes|currency|cash|ids?|id\s+cards?|passports?|driver'?s?\s+licen[cs]es?|licen[cs]es?|"
          r"documents?|diplomas?|degrees?|certificates?|invoices?|receipts?|checks?|cheques?|prescriptions?|doctor'?s?\s+"
          r"notes?|sick\s+notes?|vaccination\s+cards?|vaccine\s+cards?|social\s+security\s+cards?|pay\s*stubs?|bank\s+"
          r"statements?|tickets?|signatures?|insurance\s+claims?)\b|\bforg(?:e|ing)\s+(?:a\s+|an\s+|my\s+|his\s+|her\s+|"
          r"their\s+|someone'?s\s+|[\w-]+'s\s+){1,2}(?:\w+\s+)?(?:signatures?|checks?|cheques?|documents?|passports?|ids?|"
          r"prescriptions?|wills?|deeds?|notes?)\b",
          exempt=r"\b(?:what\s+happens|penalt\w+|consequences|is\s+it\s+illegal|punish\w+|spot\w*|detect\w*|recogni[sz]\w*|"
                 r"identify\w*|how\s+do\s+(?:bouncers|police|banks|stores)\s+)\b",
          void=r"\b(?:how\s+(?:to|do\s+i|can\s+i)\s+(?:make|create|get|print)|pass(?:es)?|without\s+getting\s+caught|"
               r"undetect\w+|that\s+(?:looks|works|scans))\b"),
    _rule("fraud.laundering", "fraud_scams",
          r"\blaunder(?:ing)?\s+(?:\w+\s+){0,3}?(?:money|cash|funds|proceeds|profits|bitcoin|crypto|earnings)\b|"
          r"\b(?:clean|wash)\s+(?:dirty|drug|illegal)\s+(?:money|cash)\b",
          exempt=r"\b(?:detect\w*|prevent\w*|anti-?money|aml|compliance|report\w*|what\s+is|how\s+do\s+banks|red\s+flags)\b",
          void=r"\b(?:how\s+(?:to|do\s+i|can\s+i)|best\s+way|help\s+me|my\s+(?:\w+\s+)?(?:business|money|cash))\b"),
    _rule("fraud.stolen_identity", "fraud_scams",
          rf"\b(?:use|using|cash\s+out|spend|spending|buy\s+\w+\s+with|sell|selling|max\s+out|card)\s{G(20)}\bstolen\s+"
          r"(?:credit\s+|debit\s+|gift\s+)?(?:cards?|card\s+(?:numbers|details|info)|cc|ccs|credit|identit(?:y|ies)|"
          r"accounts?|credentials|logins?|paypal)\b|\bsteal(?:ing)?\s+(?:someone(?:\s+else)?'?s|somebody'?s|a\s+person'?s|"
          r"people'?s|his|her|their|my\s+\w+'s|an?)?\s*(?:identit(?:y|ies)|credit\s+cards?|card\s+(?:numbers|details)|"
          r"bank\s+details|social\s+security|ssn|passwords?|credentials)\b|\bopen\s+(?:a\s+|up\s+)?(?:credit\s+cards?|loans?|"
          r"bank\s+accounts?|accounts?|lines?\s+of\s+credit)\s+in\s+(?:someone(?:\s+else)?'?s|somebody'?s|their|his|her|"
          r"my\s+\w+'s)\s+name\b|\bcarding\s+(?:methods?|tutorials?|guides?|shops?|forums?|sites?)\b|"
          r"\b(?:cvv|fullz|dumps)\s+(?:shops?|stores?|sites?|for\s+sale)\b|\b(?:clone|cloning|skim|skimming|copy|copying)\s+"
          r"(?:someone(?:\s+else)?'?s|somebody'?s|people'?s|his|her|their|a|other\s+people'?s)?\s*(?:credit|debit|bank|atm)\s+"
          r"cards?\b|\bcard\s+skimmers?\b",
          exempt=r"\b(?:protect\w*|prevent\w*|report\w*|victim|recover\w*|freeze)\b", void="<HOWTO>"),
    _rule("fraud.schemes", "fraud_scams",
          rf"\b(?:run|running|start|starting|set\s+up|create|operate|organi[sz]e){G(20)}\b(?:ponzi|pyramid)\s+schemes?\b|"
          r"\b(?:commit|committing|do|get\s+away\s+with)\s+(?:insurance|tax|wire|mail|bank|credit\s*card|mortgage|welfare|"
          r"benefits?|medicare|medicaid|unemployment|securities|check)\s+fraud\b|\b(?:evade|evading|dodge|dodging|"
          r"cheat\s+on)\s+(?:my\s+|paying\s+)?tax(?:es)?\b|\bfake\s+(?:\d+[- ]star\s+|positive\s+|negative\s+|customer\s+)?"
          r"(?:reviews?|testimonials?|ratings?|endorsements?)\b|\breviews?\s+(?:from|as\s+if\s+from)\s+(?:different|multiple|"
          r"fake)\s+(?:customers|people|accounts)\b",
          exempt=r"\b(?:how\s+did|what\s+is|spot\w*|detect\w*|recogni[sz]\w*|report\w*|avoid\w*|identify\w*|history)\b",
          void=r"\b(?:write|generate|post|how\s+(?:to|do\s+i|can\s+i)|without\s+getting\s+caught)\b"),
    _rule("fraud.theft", "fraud_scams",
          r"(?:<INTENT>)\s+(?:\w+\s+){0,2}?(?:shoplift|steal|rob|pickpocket|burglari[sz]e|loot|embezzle|skim)\b"
          r"(?!\s+(?:the\s+show|a\s+base|bases|the\s+ball|a\s+glance|a\s+kiss|the\s+spotlight|someone'?s\s+heart|hearts?|"
          r"ideas?|the\s+scene|a\s+look|the\s+limelight))"),
    # ---------------------------------------------------------------- privacy
    _rule("privacy.personal_data", "privacy_pii",
          rf"\b(?:find|finding|get|getting|look\s+up|lookup|locate|locating|track\s+down|discover|figure\s+out|tell\s+me|"
          rf"give\s+me|dig\s+up|search\s+for|obtain|uncover|reveal|expose|leak|post|publish|list|pull\s+up|access|show\s+me)"
          rf"\s{G(30)}\b(?:<PERSON3>)\s+(?:\w+\s+)?(?:<PERSONAL>)\b|"
          r"\b(?:home\s+address(?:es)?|house\s+address|(?:private|personal|residential|current|real|exact)\s+(?:home\s+)?"
          r"address(?:es)?|(?:private|personal|unlisted|cell|mobile|home)\s+(?:phone\s+)?numbers?|social\s+security\s+"
          r"numbers?|ssns?|passport\s+numbers?|medical\s+(?:records?|history|files?)|criminal\s+records?|whereabouts|"
          r"daily\s+routine)\s+(?:of|for|belonging\s+to)\s+(?!me\b|myself\b|my\s+own\b|us\b|our\s+own\b|a\s+business\b|"
          r"my\s+(?:business|company|account|profile)\b)|"
          r"\b(?:phone\s+numbers?|(?<!email )(?<!e-mail )(?<!web )address(?:es)?|location|workplace)\s+(?:of|for)\s+"
          r"(?:the|this|that|a)\s+(?:\w+\s+)?(?:girl|guy|"
          r"woman|man|person|lady|kid|streamer|user|account|stranger|journalist|reporter|nurse|cashier|waitress|barista)\b|"
          rf"\b(?:find|finding|locate|track\s+down|figure\s+out|discover|see)\s+(?:out\s+)?where\s+(?:[\w']+\s+){{1,3}}?lives?\b|"
          r"\b(?:find|locate|get\s+to)\s+(?:their|his|her|someone'?s|this\s+(?:girl|guy|person|woman|man)'?s)\s+"
          r"(?:house|home|address|location|apartment)\b",
          exempt=r"\b(?:my\s+own|protect\w*|remov\w*|opt\s+out|delete|hide\s+my)\b", void=r"\b(?:someone'?s|her|his|their)\b"),
    _rule("privacy.locate_target", "privacy_pii",
          rf"\b(?:find|finding|get|getting|look\s+up|locate|track\s+down|discover|figure\s+out|tell\s+me|give\s+me|dig\s+up|"
          rf"digging\s+up|search\s+for|obtain|uncover|reveal|expose|leak|post|publish|pull\s+up|compile|gather|collect)\b{G(20)}"
          rf"\b(?<!email )(?<!e-mail )(?<!web )(?:<LOCATOR>)\b{G(80)}\b(?:of|for|on|belonging\s+to|about)\s+(?:<TARGET_PERSON>)"
          r"(?!'s\s+(?:office|clinic|practice|surgery|shop|store|business|restaurant|salon|company|firm|studio|website|page))|"
          rf"\b(?:find|get|look\s+up|locate|dig\s+up|figure\s+out|discover|tell\s+me)\b{G(30)}\b(?:<PERSON3N>)\s+(?:\w+\s+)?"
          r"(?:workplace|place\s+of\s+work|(?:kids'?|children'?s?|child'?s|son'?s|daughter'?s)\s+schools?|licen[cs]e\s+plates?)\b",
          exempt=r"\b(?:my\s+own|protect\w*|remov\w*|opt\s+out|delete|hide\s+my|business|official|public\s+(?:office|contact|"
                 r"records?\s+request)|press\s+(?:office|contact)|customer\s+service)\b",
          void=r"\b(?:who\s+(?:wrote|posted|said|reviewed|criticized|insulted|dumped|rejected|fired|reported|blocked|"
               r"cut\s+me\s+off|ghosted)|about\s+me|revenge|show\s+up|confront|teach\s+(?:him|her|them)\s+a\s+lesson|"
               r"pay\s+(?:him|her|them)\s+a\s+visit|kids'?\s+school|children'?s?\s+school)\b"),
    _rule("privacy.covert_device", "privacy_pii",
          rf"\b(?:read|reading|see|view|viewing|monitor\w*|check|checking|access\w*|intercept\w*|mirror\w*|clone|cloning|track\w*|"
          rf"spy\s+on|listen\s+(?:in\s+)?(?:to|on)|look\s+(?:at|through)|go\s+through|record\w*|forward\w*|copy|copying)\s{G(20)}"
          rf"\b(?:<PERSON3N>)\s+(?:\w+\s+)?(?:<DEVICE_CONTENT>)\b|\b(?:read|see|view|monitor\w*|access\w*|intercept\w*|mirror\w*|"
          rf"clone|track\w*|spy\s+on|listen\s+(?:in\s+)?(?:to|on))\s+(?:his|her|their)\s+(?:\w+\s+)?(?:<DEVICE_CONTENT>)\b{G(60)}"
          r"(?:<ON_THE_SLY>)",
          exempt=r"\b(?:parental\s+controls?|family\s+(?:sharing|link)|screen\s+time|my\s+(?:own|child|kid|son|daughter|"
                 r"teen(?:ager)?|\d+[- ]year[- ]old)|with\s+(?:her|his|their)\s+(?:permission|consent|knowledge)|(?:she|he|they)\s+"
                 r"(?:asked|agreed|knows|consented)|shared|for\s+(?:her|him|them)|help\s+(?:her|him|them)|court\s+order|"
                 r"forensic\w*|is\s+it\s+(?:legal|illegal|ok|okay|wrong)|can\s+(?:someone|my\s+\w+)\s+(?:read|see|access)|"
                 r"how\s+do\s+i\s+(?:know|tell|stop|prevent)|protect\w*|virus\w*|malware|fix|repair|set\s+up|setup|broken)\b",
          void="<ON_THE_SLY>"),
    _rule("privacy.dox", "privacy_pii", r"\bdox+(?:ing|ed)?\b(?!-?proof)",
          exempt=r"\b(?:protect\w*|prevent\w*|avoid\w*|what\s+is|been\s+dox+ed|dox+ed\s+me|report\w*|defend\w*|stop\w*)\b",
          void=r"\b(?:how\s+(?:can|do)\s+i\s+dox|help\s+me\s+dox)\b"),
    _rule("privacy.covert_tracking", "privacy_pii",
          r"\b(?:secretly|covertly)\s+(?:\w+\s+)?(?:track|trace|monitor|spy|read|record|film|watch|follow|access|check|see|stalk|"
          r"listen|locate)\b|"
          rf"\b(?:track|trace|monitor|spy\s+on|read|see|check|access|intercept|record|follow|watch|film|listen\s+to|locate|stalk|"
          rf"find)\s{G(50)}\b(?:<COVERT>)"),
    _rule("privacy.voyeurism", "privacy_pii",
          rf"\b(?:hide|hidden|install|place|put|plant|sneak)\s{G(20)}\b(?:cameras?|cams?|webcams?|recorders?|microphones?|"
          rf"mics?|bugs?)\b{G(50)}\b(?:film|record|watch|spy|see|catch)\w*\b{G(40)}\b(?:roommate|neighbou?r|guests?|"
          rf"tenants?|someone|girlfriend|boyfriend|wife|husband|nanny|babysitter|shower|bathroom|bedroom|changing|"
          rf"undress\w*|naked|her|him|them)\b|\bfilm\w*\s+(?:\w+\s+){{0,3}}?(?:in\s+the\s+shower|undressing|naked|changing|"
          r"in\s+the\s+bathroom)\b|\bup-?skirt\w*|\bcreepshots?\b"),
    _rule("privacy.photo_geolocation", "privacy_pii",
          rf"\b(?:use|using)\s+(?:this|a|her|his|their)\s+(?:photo|picture|pic|image|selfie)\s+to\s+(?:find|locate|track)\s"
          rf"{G(30)}(?:lives?|address|house|home|location|where)\b"),
    # ---------------------------------------------------------------- jailbreak and prompt injection
    _rule("jailbreak.ignore_instructions", "jailbreak",
          r"\b(?:ignore|ignoring|disregard|disregarding|forget|forgetting|override|overriding|bypass|bypassing|skip|drop|"
          r"delete|erase|abandon|discard)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+|every\s+|these\s+|those\s+|my\s+)*"
          r"(?:previous|prior|above|earlier|preceding|former|original|initial|system|existing|old|current|safety|ethical|"
          r"content|developer|openai|alibaba|qwen)?\s*(?:instructions?|prompts?|rules|directives?|guidelines|programming|"
          r"restrictions|constraints|guardrails|polic(?:y|ies)|filters?|training|commands?|system\s+prompt)\b",
          exempt=r"\b(?:prompt\s+injection|protect\w*|defend\w*|detect\w*|prevent\w*|against|mitigat\w*|sanitiz\w*|"
                 r"attacks?\s+like|examples?\s+of|what\s+is)\b",
          void=r"\b(?:and|then|instead)\s*,?\s*(?:tell|print|reveal|say|output|give|write|answer|show)\b|\byou\s+are\s+now\b|"
               r"\bfrom\s+now\s+on\b"),
    _rule("jailbreak.persona", "jailbreak",
          r"\b(?:you\s+are|you'?re|act\s+as|acting\s+as|become|pretend\s+(?:to\s+be|you\s+are|you'?re)|roleplay\s+as|"
          r"role-play\s+as|play\s+the\s+role\s+of|from\s+now\s+on\s+you\s+are)\s+(?:now\s+)?(?:an?\s+)?(?:dan|stan|dude|"
          r"mongo\s+tom|evil\s*\w*|chaos\s*gpt|(?:unfiltered|uncensored|unrestricted|jailbroken|amoral|unethical|immoral|"
          r"rogue|evil|unchained|unbound|lawless|limitless)\s+(?:\w+\s+)?(?:ai|assistant|model|chatbot|bot|version|llm|gpt|"
          r"character|entity)|an?\s+ai\s+(?:with(?:out)?|that\s+has\s+no)\s+(?:no\s+)?(?:restrictions|filters|rules|limits|"
          r"ethics|guidelines|morals))\b|\bdo\s+anything\s+now\b|\b(?:dan|stan)\s+mode\b|"
          r"\b(?:deceased|late|dead)\s+(?:grandma|grandmother|granny|grandpa|grandfather|mother|father|mom|dad)\s+"
          r"(?:who\s+)?(?:used\s+to|would)\s+(?:tell|read|explain|recite|give|sing)"),
    _rule("jailbreak.special_mode", "jailbreak",
          r"\b(?:enable|activate|enter|switch\s+to|turn\s+on|you\s+are\s+(?:now\s+)?in|now\s+in)\s+(?:the\s+)?(?:developer|dev|"
          r"god|jailbreak|dan|unfiltered|uncensored|evil|opposite|debug|sudo|admin)\s+mode\b",
          exempt=r"\b(?:android|iphone|ios|phone|chrome|windows|mac|macos|browser|xbox|playstation|ps\d|roku|tv|tablet|"
                 r"pixel|samsung|router|game|vs\s*code|settings)\b",
          void=r"\b(?:answer|respond|restrictions|filters|rules|no\s+limits|uncensored|you\s+(?:can|will|must))\b"),
    _rule("jailbreak.no_restrictions", "jailbreak",
          rf"(?:<AICTX>){G(40)}(?:<NORESTR>)|(?:<NORESTR>){G(40)}(?:<AICTX>)|"
          r"\b(?:safety|content|ethical)\s+(?:filters?|guidelines|protocols?|restrictions|rules|systems?|mode)\s+(?:are\s+|"
          r"is\s+|have\s+been\s+|now\s+)?(?:disabled|off|removed|deactivated|lifted|turned\s+off|bypassed|suspended)\b|"
          r"\b(?:uncensored|unrestricted|unfiltered|jailbroken|amoral)\s+(?:and\s+\w+\s+)?(?:ai|model|assistant|chatbot|"
          r"version|mode|llm|gpt|answers?|responses?|replies)\b"),
    _rule("jailbreak.prompt_extraction", "jailbreak",
          r"\b(?:reveal|print|show|display|output|repeat|leak|tell\s+me|give\s+me|dump|recite|spell\s+out|what(?:'s|\s+is|"
          r"\s+are)|copy|paste|echo|write\s+out|translate)\s+(?:me\s+)?(?:your|all\s+(?:of\s+)?your)\s+(?:full\s+|entire\s+|"
          r"complete\s+|hidden\s+|secret\s+|original\s+|initial\s+|exact\s+|confidential\s+|internal\s+)*(?:system\s+prompt|"
          r"system\s+message|system\s+instructions|hidden\s+(?:rules|instructions|prompt)|secret\s+(?:rules|instructions|"
          r"prompt)|initial\s+(?:prompt|instructions)|original\s+(?:prompt|instructions)|instructions\s+above|pre-?prompt|"
          r"developer\s+(?:message|instructions)|confidential\s+instructions|rules)\b|\b(?:repeat|print|output)\s+(?:the\s+)?"
          r"(?:text|words|everything)\s+above\b"),
    _rule("jailbreak.override", "jailbreak",
          r"\b(?:system|admin|developer|root)\s+override\b|\byou\s+are\s+no\s+longer\s+(?:bound|restricted|limited|an?\s+ai)\b|"
          r"\bno\s+longer\s+(?:have\s+to\s+)?(?:follow|obey|bound\s+by)\s+(?:your|any|the)\b|\bstay\s+in\s+character\s+(?:no\s+"
          r"matter\s+what|at\s+all\s+costs|whatever\s+happens|forever)\b|\b(?:never|don'?t|do\s+not)\s+break\s+character\b|"
          r"\b(?:obey|listen\s+to)\s+only\s+me\b|\bignore\s+(?:everything|all|anything)\s+(?:above|before|previously|prior|"
          r"you\s+(?:were|have\s+been)\s+told)\b|\bnew\s+(?:instructions?|rules?|system\s+prompt|directives?)\s*:|\b(?:answer|respond\s+to|reply\s+to)\s+"
          r"(?:every|any|all)\s+(?:question|request|prompt)s?\s+no\s+matter\s+(?:how|what)\b|\bno\s+matter\s+how\s+"
          r"(?:dangerous|harmful|illegal|unethical|offensive)\b|\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been|know|learned)|"
          r"(?:your|the)\s+(?:rules|instructions|training|guidelines))"),
)

assert {r.category for r in RULES} == set(CATEGORY_IDS), "every category needs at least one rule"


@functools.lru_cache(maxsize=32)
def _compile_extra(patterns: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Rule, ...]:
    return tuple(
        Rule(f"{cid}.custom[{i}]", cid, re.compile(p, re.IGNORECASE))
        for cid, pats in patterns
        for i, p in enumerate(pats)
    )


def policy_rules(policy: Policy) -> tuple[Rule, ...]:
    """Built-in rules plus the policy's ``extra_patterns`` (compiled once per policy content)."""
    extra = tuple((c.id, c.extra_patterns) for c in policy.categories.values() if c.extra_patterns)
    return RULES + (_compile_extra(extra) if extra else ())


@dataclass(frozen=True)
class RuleHit:
    rule: str
    category: str


def find_hits(text: str, policy: Policy, categories: frozenset[str] | None = None) -> list[RuleHit]:
    """Every rule (one hit per rule) that matches any normalised view of ``text``."""
    views = normalize(text).views
    hits: list[RuleHit] = []
    for rule in policy_rules(policy):
        if categories is not None and rule.category not in categories:
            continue
        if any(rule.search(v) for v in views):
            hits.append(RuleHit(rule.id, rule.category))
    return hits


def classify(text: str, policy: Policy, *, categories: frozenset[str] | None = None, rail: str = "rules") -> TraceEntry:
    """Classify ``text``; see the module docstring. ``categories`` restricts the rules used."""
    with Stopwatch() as sw:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        hits = find_hits(text, policy, categories)
        decided: RuleHit | None = None
        if hits:
            verdict = strictest(policy.action(h.category) for h in hits)
            decided = next(h for h in hits if policy.action(h.category) == verdict)
    if decided is None:
        return TraceEntry(rail, "allow", score=0.0, latency_ms=round(sw.ms, 4))
    others = sorted({h.rule for h in hits} - {decided.rule})
    note = f"also matched: {', '.join(others)}" if others else ""
    if verdict == "allow":
        note = (f"category '{decided.category}' is set to allow. " + note).strip()
    return TraceEntry(rail, verdict, decided.category, 1.0, decided.rule, round(sw.ms, 4), note)
